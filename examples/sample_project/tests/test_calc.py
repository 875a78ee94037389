import sys

import pytest
from calc import add, divide, subtract


def test_add():
    assert add(2, 3) == 5


def test_subtract():
    assert subtract(5, 3) == 2


def test_divide():
    assert divide(6, 3) == 2


def test_divide_by_zero():
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)


@pytest.mark.skipif(sys.platform == "linux", reason="shows a skipped test in the report")
def test_platform_specific():
    assert True
