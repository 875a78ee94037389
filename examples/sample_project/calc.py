"""A tiny calculator with a bug for sigma-exec's sample pipeline."""


def add(a: float, b: float) -> float:
    return a + b


def subtract(a: float, b: float) -> float:
    return a - b


def divide(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a * b  # bug: the proposal fixes this
