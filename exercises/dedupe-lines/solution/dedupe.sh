#!/bin/sh
# Drop repeated lines, keep the order (reference solution).
usage() {
    echo "usage: sh dedupe.sh [-i] < input" >&2
    exit 2
}

nocase=0
case $# in
0) ;;
1) [ "$1" = "-i" ] || usage; nocase=1 ;;
*) usage ;;
esac

# tolower() of POSIX awk changes only the letters of the current locale: pin it.
LC_ALL=C exec awk -v nocase="$nocase" '
    { key = nocase ? tolower($0) : $0 }
    !(key in seen) { seen[key] = 1; print }
'
