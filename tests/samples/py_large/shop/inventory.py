"""Stock counts per item; counts never go below zero."""

from __future__ import annotations

from collections import Counter


class OutOfStock(Exception):
    """More of an item was wanted than is held."""


class Inventory:
    def __init__(self, stock: dict[str, int] | None = None) -> None:
        self._stock: Counter[str] = Counter(stock or {})

    def count(self, item: str) -> int:
        return self._stock[item]

    def restock(self, item: str, quantity: int) -> None:
        self._stock[item] += quantity

    def take(self, item: str, quantity: int) -> None:
        if self._stock[item] < quantity:
            raise OutOfStock(f"{item}: {self._stock[item]} left, {quantity} wanted")
        self._stock[item] -= quantity

    def low(self, threshold: int) -> list[str]:
        return sorted(item for item, n in self._stock.items() if n < threshold)

    def total(self) -> int:
        return sum(self._stock.values())
