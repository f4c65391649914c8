#!/bin/sh
# Drop repeated lines, keep the order: see the statement.

# TODO: drop repeats that are not adjacent, handle -i and bad arguments.
uniq
