"""Hidden tests of {{id}}: reports on the results channel (TAP), a progress log on stdout.

The learner's script runs under /bin/sh in a child of the judge
(.gauntlet/runner/judge.py, which the shell runtime provides in every workspace), its
output captured and compared here, so it cannot forge a result.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("{{id}}")


def expect(stdin, expected):
    ran = judge.run_program(["sh", "{{module}}.sh"], stdin)
    what = f"sh {{module}}.sh < {stdin!r}"
    if ran.exit_code != 0:
        err = ran.stderr[:500].decode("utf-8", "replace")
        raise Failure(f"{what}: expected exit status 0, got {ran.exit_code}\nstderr: {err}")
    got = ran.stdout.decode("utf-8", "replace")
    if got != expected:
        raise Failure(f"{what}: expected {expected!r} on stdout, got {got[:300]!r}")


@suite.test("counts two words on one line")
def _():
    expect(b"hello world\n", "2\n")


@suite.test("counts words across lines")
def _():
    expect(b"one two\nthree\n", "3\n")


@suite.test("prints 0 for an empty input")
def _():
    expect(b"", "0\n")


@suite.test("ignores runs of spaces and tabs")
def _():
    expect(b"  one \t  two  \n", "2\n")


if __name__ == "__main__":
    suite.main()
