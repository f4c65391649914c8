#!/bin/sh
# {{title_line}}: see the statement.

# TODO: this counts lines, not words.
count=0
while IFS= read -r line; do
    count=$((count + 1))
done
echo "$count"
