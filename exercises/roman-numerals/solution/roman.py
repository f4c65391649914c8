"""Roman numerals, both ways (reference solution)."""

NUMERALS = [
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
]


def to_roman(number):
    if type(number) is not int:
        raise TypeError(f"expected an int, got {type(number).__name__}")
    if not 1 <= number <= 3999:
        raise ValueError(f"{number} is outside 1..3999")
    parts = []
    for value, symbol in NUMERALS:
        count, number = divmod(number, value)
        parts.append(symbol * count)
    return "".join(parts)


def from_roman(numeral):
    if type(numeral) is not str:
        raise TypeError(f"expected a str, got {type(numeral).__name__}")
    total = 0
    rest = numeral
    for value, symbol in NUMERALS:
        while rest.startswith(symbol):
            total += value
            rest = rest[len(symbol) :]
    # Greedy parsing accepts some non-standard strings (IIII, VV, IXI...): the
    # round trip through to_roman rejects every one of them.
    if rest or not 1 <= total <= 3999 or to_roman(total) != numeral:
        raise ValueError(f"{numeral!r} is not a Roman numeral in standard form")
    return total
