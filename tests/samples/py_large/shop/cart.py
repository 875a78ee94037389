"""Lines of (item, unit price, quantity) with an optional percentage discount."""

from __future__ import annotations

from shop.money import Money


class Cart:
    def __init__(self) -> None:
        self._lines: dict[str, tuple[Money, int]] = {}
        self._discount = 0

    def add(self, item: str, price: Money, quantity: int = 1) -> Cart:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        _, held = self._lines.get(item, (price, 0))
        self._lines[item] = (price, held + quantity)
        return self

    def remove(self, item: str) -> None:
        if item not in self._lines:
            raise KeyError(item)
        del self._lines[item]

    def quantity(self, item: str) -> int:
        return self._lines.get(item, (None, 0))[1]

    def items(self) -> list[str]:
        return sorted(self._lines)

    @property
    def discount(self) -> int:
        return self._discount

    @discount.setter
    def discount(self, percent: int) -> None:
        if not 0 <= percent <= 100:
            raise ValueError("discount must be within 0..100")
        self._discount = percent

    def subtotal(self) -> Money:
        total = Money(0)
        for price, quantity in self._lines.values():
            total = total + price * quantity
        return total

    def total(self) -> Money:
        return self.subtotal() * ((100 - self._discount) / 100)
