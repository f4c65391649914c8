"""Hidden tests for mini-package (an archive exercise). Prints TAP; see .gauntlet/runner/judge.py for
why it cannot be forged."""

import os
import sys

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("mini-package")

PUBLIC = ["average_word_length", "sentence_count", "word_count"]


def table(module, name, cases):
    outcomes = judge.call_many(module, name, [[arg] for arg, _ in cases])
    for (arg, expected), outcome in zip(cases, outcomes):
        outcome.expect_value(expected, f"{module}.{name}({arg!r})")


@suite.test("import textstats works and prints nothing")
def _():
    outcome = judge.call("textstats_probe", "import_output")
    if outcome.raised:
        raise Failure(f"import textstats {outcome.describe()}\n{outcome.raised.get('traceback', '')}")
    if outcome.value != "":
        raise Failure(f"import textstats printed {judge.show(outcome.value)}: a package should import silently")


@suite.test("textstats.__version__ is 1.0.0")
def _():
    d = judge.describe("textstats", "__version__")
    if d.get("kind") == "missing":
        raise Failure("textstats has no __version__")
    got = judge.decode(d["value"])
    if got != "1.0.0":
        raise Failure(f"textstats.__version__: expected '1.0.0', got {judge.show(got)}")


@suite.test("textstats re-exports the three functions of textstats.core")
def _():
    for name in PUBLIC:
        d = judge.describe("textstats", name)
        if d.get("kind") == "missing":
            raise Failure(f"textstats has no {name}: import it in textstats/__init__.py")
        if d.get("defined_in") != f"textstats.core.{name}":
            raise Failure(
                f"textstats.{name} is defined in {d.get('defined_in')}, expected "
                f"textstats.core.{name}: re-export it, do not copy it"
            )
    judge.call("textstats_probe", "reexports").expect_value(
        [True, True, True], "textstats.X is textstats.core.X for the three functions"
    )


@suite.test("__all__ lists exactly the three public functions")
def _():
    judge.call("textstats_probe", "star_import_names").expect_value(
        PUBLIC, "sorted names brought in by `from textstats import *`"
    )


@suite.test("word_count counts runs of letters and digits")
def _():
    table("textstats", "word_count", [
        ("", 0), ("hello", 1), ("Hello, world!", 2), ("Don't stop", 3),
        ("  tabs\tand\nnewlines  ", 3), ("route 66 and 3.14", 5), ("café naïve", 2),
        ("--- ... !!!", 0),
    ])


@suite.test("words are lower case and split on apostrophes and hyphens")
def _():
    table("textstats.core", "words", [
        ("Hello World", ["hello", "world"]), ("Don't well-known", ["don", "t", "well", "known"]),
        ("ÉTÉ", ["été"]), ("", []),
    ])


@suite.test("sentence_count counts end marks, a run of them once")
def _():
    table("textstats", "sentence_count", [
        ("Hi. How are you?!", 2), ("Wait... what?", 2), ("One. Two", 2), ("One.", 1),
        ("no marks at all", 1), ("", 0), ("...", 0), ("! ? .", 0), ("A. . B.", 2),
    ])


@suite.test("average_word_length rounds to two decimals, 0.0 without words")
def _():
    table("textstats", "average_word_length", [
        ("Hi there", 3.5), ("a bb ccc", 2.0), ("Hi there. Bye!", 3.33), ("", 0.0),
        ("...", 0.0), ("one two three", 3.67),
    ])


@suite.test("the functions raise TypeError for a non-string")
def _():
    for name in PUBLIC:
        outcomes = judge.call_many("textstats", name, [[None], [42], [["a", "b"]]])
        for arg, outcome in zip(["None", "42", "['a', 'b']"], outcomes):
            outcome.expect_raises("TypeError", f"textstats.{name}({arg})")


@suite.test("textstats.report.summary returns words, sentences and average length")
def _():
    table("textstats.report", "summary", [
        ("Hi there. Bye!", {"words": 3, "sentences": 2, "average_word_length": 3.33}),
        ("", {"words": 0, "sentences": 0, "average_word_length": 0.0}),
    ])


if __name__ == "__main__":
    suite.main()
