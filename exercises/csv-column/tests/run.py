"""Hidden tests for csv-column. Prints TAP.

The learner's script runs under /bin/sh in a child of judge.py, its output captured;
a shell runner could not keep a hostile script away from its own stdout (any process
of the same user can open /proc/<runner>/fd/1), so the judge is python: see .gauntlet/runner/judge.py.
"""

import os
import sys

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

suite = judge.Suite("csv-column")

PEOPLE = b"id,name,city\n1,Ada,London\n2,Linus,Helsinki\n3,Grace,Arlington\n"


def csvcol(args, stdin):
    return judge.run_program(["sh", "csvcol.sh", *args], stdin)


def show_call(args, stdin):
    shown = " ".join(repr(a) for a in args)
    return f"sh csvcol.sh {shown} < {stdin[:80]!r}"


def expect_output(args, stdin, expected):
    ran = csvcol(args, stdin)
    what = show_call(args, stdin)
    if ran.exit_code != 0:
        raise Failure(
            f"{what}: expected exit status 0, got {ran.exit_code}\n"
            f"stderr: {ran.stderr[:500].decode('utf-8', 'replace')}"
        )
    if ran.stdout != expected:
        raise Failure(
            f"{what}: expected stdout {expected.decode('utf-8', 'replace')!r}, "
            f"got {ran.stdout[:500].decode('utf-8', 'replace')!r}"
        )


def expect_error(args, stdin, status, stderr_has=None):
    ran = csvcol(args, stdin)
    what = show_call(args, stdin)
    if ran.exit_code != status:
        raise Failure(f"{what}: expected exit status {status}, got {ran.exit_code}")
    if ran.stdout:
        raise Failure(f"{what}: expected nothing on stdout, got {ran.stdout[:200]!r}")
    err = ran.stderr.decode("utf-8", "replace")
    if not err.strip():
        raise Failure(f"{what}: expected a message on stderr, got none")
    if stderr_has is not None and stderr_has not in err:
        raise Failure(f"{what}: expected stderr to contain {stderr_has!r}, got {err[:300]!r}")


@suite.test("prints the first column")
def _():
    expect_output(["id"], PEOPLE, b"1\n2\n3\n")


@suite.test("prints a middle column")
def _():
    expect_output(["name"], PEOPLE, b"Ada\nLinus\nGrace\n")


@suite.test("prints the last column")
def _():
    expect_output(["city"], PEOPLE, b"London\nHelsinki\nArlington\n")


@suite.test("prints nothing for a header with no data lines")
def _():
    expect_output(["city"], b"id,name,city\n", b"")


@suite.test("strips the CR of CRLF line endings")
def _():
    expect_output(["city"], PEOPLE.replace(b"\n", b"\r\n"), b"London\nHelsinki\nArlington\n")


@suite.test("reads a last line that has no newline")
def _():
    expect_output(["name"], PEOPLE.rstrip(b"\n"), b"Ada\nLinus\nGrace\n")


@suite.test("keeps empty fields and prints an empty line for short lines")
def _():
    data = b"a,b,c\n1,,3\n4\n,,\n7,8,9\n"
    expect_output(["b"], data, b"\n\n\n8\n")


@suite.test("matches a column name with spaces exactly")
def _():
    data = b"first name,last name,first\nAda,Lovelace,x\nAlan,Turing,y\n"
    expect_output(["first name"], data, b"Ada\nAlan\n")


@suite.test("matches case exactly and uses the first of two equal names")
def _():
    data = b"Name,name,name\nA,b,c\nD,e,f\n"
    expect_output(["name"], data, b"b\ne\n")


@suite.test("takes a backslash in the column name literally")
def _():
    data = b"x,a\\tb,y\n1,2,3\n"
    expect_output(["a\\tb"], data, b"2\n")


@suite.test("does not expand wildcards in the data")
def _():
    data = b"pattern,n\n*,1\n/*,2\n?,3\n"
    expect_output(["pattern"], data, b"*\n/*\n?\n")


@suite.test("an unknown column: exit status 1, a message on stderr, nothing on stdout")
def _():
    expect_error(["country"], PEOPLE, 1, "no column named country")


@suite.test("empty input: exit status 1 and a message on stderr")
def _():
    expect_error(["city"], b"", 1)


@suite.test("no argument or two arguments: exit status 2 and a usage message")
def _():
    expect_error([], PEOPLE, 2)
    expect_error(["id", "name"], PEOPLE, 2)


if __name__ == "__main__":
    suite.main()
