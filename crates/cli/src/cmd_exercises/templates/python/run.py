"""Hidden tests of {{id}}: reports on the results channel (TAP), a progress log on stdout.

The learner's code runs only in children of the judge (.gauntlet/runner/judge.py, which
the python runtime provides in every workspace): each call returns plain data that is
compared here, so the learner's code cannot forge a result.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402

suite = judge.Suite("{{id}}")


def expect(text, expected):
    judge.call("{{module}}", "count_words", text).expect_value(expected, f"count_words({text!r})")


@suite.test("counts two words")
def _():
    expect("hello world", 2)


@suite.test("counts a single word")
def _():
    expect("hello", 1)


@suite.test("finds no word in an empty text")
def _():
    expect("", 0)


@suite.test("ignores runs of spaces at the ends and between words")
def _():
    expect("  one   two  ", 2)


@suite.test("treats tabs and newlines as separators")
def _():
    expect("one\ttwo\nthree", 3)


if __name__ == "__main__":
    suite.main()
