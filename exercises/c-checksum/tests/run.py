"""Hidden tests for c-checksum. Runs the learner's program, compiled by the package's
build step to /build/checksum, through the bundled judge: each run is a confined
child, and the results go to the results channel as TAP (see .gauntlet/runner/judge.py).
Expected checksums are written out, or computed with Python's zlib.adler32."""

import os
import shutil
import sys
import tempfile
import zlib

# The runner comes with the runtime, in .gauntlet/runner/ (see exercises/README.md).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, ".gauntlet", "runner"))
import judge  # noqa: E402
from judge import Failure  # noqa: E402

# Where the build step leaves the program (read-only during the tests).
PROGRAM = "/build/checksum"

suite = judge.Suite("c-checksum")


def run(args=(), stdin=b"", timeout=3.0):
    if not os.path.isfile(PROGRAM):
        raise Failure(f"{PROGRAM} is missing: the build did not produce the program")
    return judge.run_program([PROGRAM, *args], stdin, timeout=timeout)


def quoted(data):
    return data[:300].decode("utf-8", "replace")


def shown_input(data):
    return repr(data) if len(data) <= 40 else f"{len(data)} bytes starting {data[:16]!r}"


def expect_stdout(args, stdin, expected, timeout=3.0):
    ran = run(args, stdin, timeout)
    what = f"checksum {' '.join(args)}".rstrip() + (f" < {shown_input(stdin)}" if not args else "")
    if ran.exit_code != 0:
        raise Failure(
            f"{what}: expected exit status 0, got {ran.exit_code}"
            + (f"\nstderr: {quoted(ran.stderr)!r}" if ran.stderr else "")
        )
    if ran.stdout != expected:
        raise Failure(f"{what}: expected stdout {quoted(expected)!r}, got {quoted(ran.stdout)!r}")


def hex_line(data):
    return b"%08x\n" % zlib.adler32(data)


# Files for the tests with arguments, in a folder of /tmp the code under test can read.
scratch = tempfile.mkdtemp(prefix="checksum-")


def scratch_file(name, data):
    path = os.path.join(scratch, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@suite.test("prints 00000001 for empty input, eight hex digits and a newline")
def _():
    expect_stdout([], b"", b"00000001\n")


@suite.test("checksums a short text")
def _():
    expect_stdout([], b"Wikipedia", b"11e60398\n")
    expect_stdout([], b"abc", b"024d0127\n")


@suite.test("counts the newline at the end of a line")
def _():
    expect_stdout([], b"hello world\n", hex_line(b"hello world\n"))


@suite.test("reads bytes above 0x7f as values from 128 to 255")
def _():
    expect_stdout([], b"\x80\xff\xfe", b"047f027e\n")
    expect_stdout([], "naïve café\n".encode(), hex_line("naïve café\n".encode()))


@suite.test("reads NUL bytes like any other byte")
def _():
    expect_stdout([], b"\x00", b"00010001\n")
    expect_stdout([], b"a\x00b\x00\x00c", hex_line(b"a\x00b\x00\x00c"))


@suite.test("keeps both sums below 65521 on 64 KiB of text")
def _():
    data = b"z" * 65536
    expect_stdout([], data, hex_line(data))


@suite.test("checksums 8 MiB of every byte value in well under a second")
def _():
    data = bytes(range(256)) * (8 * 4096)
    expect_stdout([], data, hex_line(data), timeout=5.0)


@suite.test("prints a line per file argument, checksum then two spaces then the name")
def _():
    one = scratch_file("one.txt", b"Wikipedia")
    two = scratch_file("two.bin", bytes(range(256)) * 3)
    empty = scratch_file("empty", b"")
    expected = (
        b"11e60398  " + one.encode() + b"\n"
        + hex_line(bytes(range(256)) * 3)[:8] + b"  " + two.encode() + b"\n"
        + b"00000001  " + empty.encode() + b"\n"
    )
    expect_stdout([one, two, empty], b"", expected)


@suite.test("reads the files, not standard input, when there are arguments")
def _():
    one = scratch_file("abc.txt", b"abc")
    ran = run([one], b"this is standard input")
    if ran.stdout != b"024d0127  " + one.encode() + b"\n":
        raise Failure(
            f"checksum {one} < 'this is standard input': expected stdout "
            f"'024d0127  {one}\\n', got {quoted(ran.stdout)!r}"
        )


@suite.test("reports a missing file on stderr, goes on, and exits with status 1")
def _():
    one = scratch_file("here.txt", b"Wikipedia")
    missing = os.path.join(scratch, "not-there.txt")
    ran = run([missing, one])
    what = f"checksum {missing} {one}"
    if ran.exit_code != 1:
        raise Failure(f"{what}: expected exit status 1, got {ran.exit_code}")
    if ran.stdout != b"11e60398  " + one.encode() + b"\n":
        raise Failure(
            f"{what}: expected stdout to hold only the line for {one}, got {quoted(ran.stdout)!r}"
        )
    if missing.encode() not in ran.stderr:
        raise Failure(f"{what}: expected stderr to name {missing}, got {quoted(ran.stderr)!r}")


@suite.test("reports a folder it cannot read as a file, and exits with status 1")
def _():
    folder = os.path.join(scratch, "a-folder")
    os.makedirs(folder, exist_ok=True)
    ran = run([folder])
    what = f"checksum {folder}"
    if ran.exit_code != 1:
        raise Failure(f"{what}: expected exit status 1, got {ran.exit_code}")
    if ran.stdout:
        raise Failure(f"{what}: expected nothing on stdout, got {quoted(ran.stdout)!r}")
    if folder.encode() not in ran.stderr:
        raise Failure(f"{what}: expected stderr to name {folder}, got {quoted(ran.stderr)!r}")


if __name__ == "__main__":
    try:
        suite.main()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
