#!/bin/sh
# Cut one column out of a CSV file (reference solution).
if [ $# -ne 1 ]; then
    echo "usage: sh csvcol.sh NAME < file.csv" >&2
    exit 2
fi
name=$1

cr=$(printf '\r')
if ! IFS= read -r header && [ -z "$header" ]; then
    echo "csvcol: empty input: no header line" >&2
    exit 1
fi
header=${header%"$cr"}

# Find the position of the first header field equal to NAME.
set -f
old_ifs=$IFS
IFS=,
col=0
i=0
for field in $header""; do
    i=$((i + 1))
    if [ "$field" = "$name" ]; then
        col=$i
        break
    fi
done
IFS=$old_ifs
set +f

if [ "$col" -eq 0 ]; then
    printf 'csvcol: no column named %s\n' "$name" >&2
    exit 1
fi
# The rest of stdin: the data lines. $col is a plain number, so -v is safe here.
exec awk -F, -v col="$col" '{ sub(/\r$/, ""); print $col }'
