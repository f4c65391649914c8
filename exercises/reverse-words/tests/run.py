"""Hidden tests for reverse-words. Prints TAP; see .gauntlet/runner/judge.py for why it cannot be forged."""

import os
import sys

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("reverse-words")


def expect(sentence, expected):
    judge.call("words", "reverse_words", sentence).expect_value(
        expected, f"reverse_words({sentence!r})"
    )


@suite.test("reverses two words")
def _():
    expect("hello world", "world hello")


@suite.test("keeps a single word as it is")
def _():
    expect("gauntlet", "gauntlet")


@suite.test("returns an empty string for an empty sentence")
def _():
    expect("", "")


@suite.test("returns an empty string for a sentence of only spaces")
def _():
    expect("   \t  ", "")


@suite.test("reverses a longer sentence word by word, not letter by letter")
def _():
    expect("the quick brown fox jumps", "jumps fox brown quick the")


@suite.test("collapses runs of spaces and drops leading and trailing spaces")
def _():
    expect("  one   two  three ", "three two one")


@suite.test("treats tabs and newlines as word separators")
def _():
    expect("one\ttwo\nthree", "three two one")


@suite.test("keeps punctuation attached to its word")
def _():
    expect("Hello, world!", "world! Hello,")


@suite.test("handles words that are not ASCII")
def _():
    expect("über naïve café", "café naïve über")


@suite.test("returns a str, not a list")
def _():
    outcome = judge.call("words", "reverse_words", "a b")
    if outcome.raised is None and not isinstance(outcome.value, str):
        raise Failure(f"expected a str, but it {outcome.describe()}")
    outcome.expect_value("b a", "reverse_words('a b')")


@suite.test("handles a sentence of 10000 words quickly")
def _():
    words = [f"w{i}" for i in range(10000)]
    outcome = judge.call("words", "reverse_words", " ".join(words), timeout=5)
    if outcome.raised or outcome.value != " ".join(reversed(words)):
        raise Failure(f"reverse_words of 10000 words: it {outcome.describe()}")


if __name__ == "__main__":
    suite.main()
