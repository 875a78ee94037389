import pytest

from shop.money import Money


def test_adds():
    assert Money(100) + Money(250) == Money(350)


def test_subtracts():
    assert Money(100) - Money(250) == Money(-150)


def test_multiplies_and_rounds():
    assert Money(100) * 0.333 == Money(33)


def test_compares():
    assert Money(100) < Money(101)


def test_equal_amounts_are_equal():
    assert Money(5) == Money(5)


def test_zero():
    assert Money(0).is_zero()


def test_not_zero():
    assert not Money(1).is_zero()


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [(1205, "EUR", "12.05 EUR"), (-50, "EUR", "-0.50 EUR"), (100, "USD", "1.00 USD")],
)
def test_formats(cents, currency, text):
    assert str(Money(cents, currency)) == text


def test_refuses_mixed_currencies():
    with pytest.raises(ValueError):
        Money(1) + Money(1, "USD")


def test_refuses_fractional_cents():
    with pytest.raises(TypeError):
        Money(1.5)


def test_different_currencies_do_not_compare():
    with pytest.raises(ValueError):
        Money(1) < Money(1, "USD")
