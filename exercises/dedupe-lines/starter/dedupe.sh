#!/bin/sh
# Drop repeated lines, keep the order.
#
# Usage: sh dedupe.sh [-i] < input
#
# Copy standard input to standard output, leaving out every line that already
# appeared earlier in the input. The first occurrence stays where it is, so the order
# of the remaining lines is the order of the input. A POSIX sh script (it runs under
# dash, with awk, sed, sort, grep ... at hand).
#
# - Repeats need not be next to each other: "b a b c a" (one per line) gives "b a c".
# - Lines compare exactly: spaces and tabs count, so "x" and "x " differ.
# - An empty line is a line like any other: only its first occurrence is printed.
# - With -i, lines that differ only in the case of ASCII letters count as the same
#   line; the first spelling is the one printed.
# - Every line printed ends with a newline, even if the input's last line had none.
# - Any other argument, or more than one: a usage message on stderr, exit status 2.
# - Otherwise exit with status 0.
#
# The tests run a list of checks and pass only if every check passes (the exercise
# is all or nothing); the log shows which check failed.
#
# Hint: `uniq` only drops repeats that are next to each other, and `sort -u` loses
# the order. awk can remember which lines it has seen.

# TODO: drop repeats that are not adjacent, handle -i and bad arguments.
uniq
