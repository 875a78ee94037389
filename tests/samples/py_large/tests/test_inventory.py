import pytest

from shop.inventory import Inventory, OutOfStock


@pytest.fixture
def stock():
    return Inventory({"tea": 5, "cake": 1})


def test_counts(stock):
    assert stock.count("tea") == 5


def test_unknown_items_count_zero(stock):
    assert stock.count("coffee") == 0


def test_total(stock):
    assert stock.total() == 6


def test_low_stock(stock):
    assert stock.low(2) == ["cake"]


def test_nothing_is_low_under_zero(stock):
    assert stock.low(0) == []


def test_restocks(stock):
    stock.restock("cake", 4)
    assert stock.count("cake") == 5


def test_restocks_new_items(stock):
    stock.restock("coffee", 2)
    assert stock.count("coffee") == 2


def test_takes(stock):
    stock.take("tea", 2)
    assert stock.count("tea") == 3


def test_takes_everything(stock):
    stock.take("cake", 1)
    assert stock.count("cake") == 0


def test_refuses_to_take_more_than_held(stock):
    with pytest.raises(OutOfStock, match="1 left"):
        stock.take("cake", 2)


def test_an_empty_inventory_totals_zero():
    assert Inventory().total() == 0
