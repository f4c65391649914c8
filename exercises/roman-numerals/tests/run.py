"""Hidden tests for roman-numerals. Writes JUnit XML (run.py --junit FILE); see
judge.py for why a submission cannot forge it."""

import os
import sys

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("roman-numerals")

# The reference table, written out by hand so the tests do not share code with any
# solution.
KNOWN = {
    1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 9: "IX", 10: "X",
    14: "XIV", 40: "XL", 44: "XLIV", 49: "XLIX", 90: "XC", 99: "XCIX", 400: "CD",
    444: "CDXLIV", 500: "D", 900: "CM", 1000: "M", 1666: "MDCLXVI", 1994: "MCMXCIV",
    2024: "MMXXIV", 3888: "MMMDCCCLXXXVIII", 3999: "MMMCMXCIX",
}


def check_all(name, cases):
    """cases: [(argument, expected)]; one child runs them all, every miss is listed."""
    outcomes = judge.call_many("roman", name, [[arg] for arg, _ in cases])
    misses = []
    for (arg, expected), outcome in zip(cases, outcomes):
        try:
            outcome.expect_value(expected, f"{name}({arg!r})")
        except Failure as e:
            misses.append(str(e).splitlines()[0])
    if misses:
        note = outcomes[0].note if outcomes else ""
        shown = "\n".join(misses[:8])
        more = f"\n... and {len(misses) - 8} more" if len(misses) > 8 else ""
        raise Failure(f"{len(misses)} of {len(cases)} wrong:\n{shown}{more}{note}")


def check_raises(name, args, error):
    outcomes = judge.call_many("roman", name, [[a] for a in args])
    for arg, outcome in zip(args, outcomes):
        outcome.expect_raises(error, f"{name}({arg!r})")


@suite.test("to_roman writes the seven single symbols")
def _():
    check_all("to_roman", [(1, "I"), (5, "V"), (10, "X"), (50, "L"), (100, "C"),
                           (500, "D"), (1000, "M")])


@suite.test("to_roman adds symbols from the largest down")
def _():
    check_all("to_roman", [(2, "II"), (3, "III"), (6, "VI"), (1666, "MDCLXVI"),
                           (2024, "MMXXIV"), (3888, "MMMDCCCLXXXVIII")])


@suite.test("to_roman uses the six subtractive pairs")
def _():
    check_all("to_roman", [(4, "IV"), (9, "IX"), (40, "XL"), (90, "XC"), (400, "CD"),
                           (900, "CM")])


@suite.test("to_roman combines pairs: 1994 is MCMXCIV, 3999 is MMMCMXCIX")
def _():
    check_all("to_roman", [(1994, "MCMXCIV"), (3999, "MMMCMXCIX"), (444, "CDXLIV"),
                           (49, "XLIX"), (99, "XCIX")])


@suite.test("to_roman raises ValueError outside 1..3999")
def _():
    check_raises("to_roman", [0, -1, 4000, 10**9], "ValueError")


@suite.test("to_roman raises TypeError for floats, strings, None and booleans")
def _():
    check_raises("to_roman", [4.0, "4", None, True], "TypeError")


@suite.test("from_roman reads standard numerals")
def _():
    check_all("from_roman", [(numeral, n) for n, numeral in sorted(KNOWN.items())])


@suite.test("from_roman raises ValueError for non-standard numerals")
def _():
    check_raises(
        "from_roman",
        ["IIII", "VV", "IC", "IM", "XM", "MMMM", "CMM", "IXI", "VX", "LL", "DD", "XXXX"],
        "ValueError",
    )


@suite.test("from_roman raises ValueError for empty, lower-case or spaced strings")
def _():
    check_raises("from_roman", ["", "xiv", " XIV", "XIV ", "X IV", "ABC", "Ⅻ"], "ValueError")


@suite.test("from_roman raises TypeError for a non-string")
def _():
    check_raises("from_roman", [14, None, ["X"]], "TypeError")


@suite.test("from_roman(to_roman(n)) == n for every n from 1 to 3999")
def _():
    outcomes = judge.call_many("roman", "to_roman", [[n] for n in range(1, 4000)], timeout=8)
    numerals = []
    for n, outcome in zip(range(1, 4000), outcomes):
        if outcome.raised or not isinstance(outcome.value, str):
            raise Failure(f"to_roman({n}) {outcome.describe()}")
        numerals.append(outcome.value)
    if len(set(numerals)) != 3999:
        raise Failure("to_roman gives the same numeral for two different numbers")
    back = judge.call_many("roman", "from_roman", [[s] for s in numerals], timeout=8)
    for n, numeral, outcome in zip(range(1, 4000), numerals, back):
        outcome.expect_value(n, f"from_roman({numeral!r}) (from to_roman({n}))")


if __name__ == "__main__":
    suite.main()
