#!/bin/sh
# Cut one column out of a CSV file.
#
# Usage: sh csvcol.sh NAME < file.csv
#
# Read CSV from standard input. Its first line is a header that names the columns.
# Print the value of the column called NAME for every following line, one per line,
# in order. A POSIX sh script: it runs under dash, with the usual tools (awk, sed,
# cut, grep, tr, ...) at hand.
#
# - Fields are separated by commas; there is no quoting (a field never holds a comma).
# - NAME must match a header field exactly: case, spaces and any backslash included
#   ("first name" and "a\tb" are ordinary names; \t is not a tab here).
# - If several header fields are called NAME, use the first.
# - Lines may end in CRLF (Windows) instead of LF: never print the CR.
# - A line with fewer fields than the column's position gives an empty line.
# - The last line may lack its final newline; it still counts.
# - If no header field is called NAME: print nothing on stdout, print
#   "csvcol: no column named NAME" on stderr, and exit with status 1.
# - If the input is empty (no header line at all): a message on stderr, status 1.
# - Without exactly one argument: a usage message on stderr, status 2.
# - Otherwise exit with status 0.
#
# Example, with people.csv holding
#     id,name,city
#     1,Ada,London
#     2,Linus,Helsinki
# `sh csvcol.sh city < people.csv` prints
#     London
#     Helsinki
#
# Hints: `IFS=, read -r` splits a line into fields; awk -F, numbers them $1, $2, ...;
# and awk -v col=... interprets backslashes in its value, while ENVIRON["X"] does not.

name=$1
# TODO: find the position of the column called "$name" in the header; for now this
# always prints the first column, and none of the error cases are handled.
tail -n +2 | cut -d, -f1
