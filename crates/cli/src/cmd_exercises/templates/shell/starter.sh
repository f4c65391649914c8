#!/bin/sh
# {{title}}
#
# Write a POSIX sh script that reads text on stdin and prints the number of words in
# it, then a newline. A word is a run of characters that are not whitespace (spaces,
# tabs, newlines): "  a  b " has two words, an empty input has none (print 0).
#
# Examples:
#   printf 'hello world\n' | sh {{module}}.sh     # 2
#   printf '' | sh {{module}}.sh                  # 0
#
# /bin/sh is dash: no bash arrays, no [[ ]].

# TODO: this counts lines, not words.
count=0
while IFS= read -r line; do
    count=$((count + 1))
done
echo "$count"
