"""A tiny package in a src/ layout that depends on python-dateutil."""

import datetime
from importlib.metadata import version

from dateutil.relativedelta import relativedelta

__version__ = version("clockpkg")


def next_month(today: datetime.date | None = None) -> datetime.date:
    return (today or datetime.date.today()) + relativedelta(months=1)
