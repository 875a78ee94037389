import datetime

from freezegun import freeze_time

import clockpkg


@freeze_time("2024-01-31")
def test_next_month_clamps_to_the_end_of_february():
    assert clockpkg.next_month() == datetime.date(2024, 2, 29)


def test_the_installed_metadata_is_the_project_s():
    assert clockpkg.__version__ == "0.3.0"
