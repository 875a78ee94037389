import pytest

from shop.cart import Cart
from shop.money import Money


@pytest.fixture
def cart():
    return Cart()


def test_a_new_cart_is_empty(cart):
    assert cart.items() == []


def test_a_new_cart_totals_zero(cart):
    assert cart.total() == Money(0)


def test_adds_items(cart):
    cart.add("tea", Money(300), 2)
    assert cart.quantity("tea") == 2


def test_adding_again_adds_up(cart):
    cart.add("tea", Money(300)).add("tea", Money(300), 3)
    assert cart.quantity("tea") == 4


@pytest.mark.parametrize("quantity", [0, -1])
def test_refuses_non_positive_quantities(cart, quantity):
    with pytest.raises(ValueError):
        cart.add("tea", Money(300), quantity)


def test_lists_items_sorted(cart):
    cart.add("tea", Money(300)).add("cake", Money(250))
    assert cart.items() == ["cake", "tea"]


def test_removes_items(cart):
    cart.add("tea", Money(300))
    cart.remove("tea")
    assert cart.quantity("tea") == 0


def test_removing_a_missing_item_fails(cart):
    with pytest.raises(KeyError):
        cart.remove("tea")


def test_subtotal(cart):
    cart.add("tea", Money(300), 2).add("cake", Money(250))
    assert cart.subtotal() == Money(850)


def test_total_with_a_discount(cart):
    cart.add("tea", Money(1000))
    cart.discount = 15
    assert cart.total() == Money(850)


@pytest.mark.parametrize("percent", [-1, 120])
def test_refuses_discounts_outside_0_to_100(cart, percent):
    with pytest.raises(ValueError):
        cart.discount = percent


def test_a_full_discount_makes_it_free(cart):
    cart.add("tea", Money(1000))
    cart.discount = 100
    assert cart.total().is_zero()


def test_unknown_items_have_no_quantity(cart):
    assert cart.quantity("coffee") == 0
