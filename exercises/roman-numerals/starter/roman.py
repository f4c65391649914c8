"""Roman numerals, both ways.

Write two functions:

to_roman(number) -> str
    Turns an int from 1 to 3999 into its Roman numeral, in capitals, using the
    symbols I=1, V=5, X=10, L=50, C=100, D=500, M=1000 and the six subtractive pairs
    IV=4, IX=9, XL=40, XC=90, CD=400, CM=900. Always the shortest standard form:
    4 is "IV", never "IIII"; 1994 is "MCMXCIV".
    - A number outside 1..3999 raises ValueError.
    - Anything that is not an int raises TypeError (True and False count as not ints,
      and so does 4.0).

from_roman(numeral) -> int
    The reverse: from_roman("MCMXCIV") == 1994. It accepts exactly the strings that
    to_roman can return, so from_roman(to_roman(n)) == n for every n in 1..3999.
    - Anything else raises ValueError: "" , "IIII", "VV", "IC", "MMMM", "xiv"
      (lower case), " XIV" (spaces).
    - A non-str argument raises TypeError.

Examples:
    to_roman(3)      == "III"
    to_roman(1994)   == "MCMXCIV"
    from_roman("XL") == 40

Hint: a table of (value, symbol) pairs from 1000 down to 1, the pairs included, makes
to_roman a short loop; and from_roman can check its answer with to_roman.
"""

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
