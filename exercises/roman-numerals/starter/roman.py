# Roman numerals, both ways: see the statement.

NUMERALS = [
    (1000, "M"),
    (500, "D"),
    (100, "C"),
    (50, "L"),
    (10, "X"),
    (5, "V"),
    (1, "I"),
]


def to_roman(number):
    # TODO: subtractive pairs (IV, IX, XL, XC, CD, CM), range and type checks.
    result = ""
    for value, symbol in NUMERALS:
        while number >= value:
            result += symbol
            number -= value
    return result


def from_roman(numeral):
    # TODO: subtractive pairs, and reject numerals that are not in standard form.
    values = {symbol: value for value, symbol in NUMERALS}
    return sum(values[c] for c in numeral)
