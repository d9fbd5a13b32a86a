"""A tiny calculator module: the project the demo agent works on."""


def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values; an empty list is an error."""
    if not values:
        raise ValueError("mean() of an empty list")
    return sum(values) / len(values)
