#!/bin/sh
# Hidden tests for dedupe-lines. Results: TAP on the results channel (fd 3, which
# Gauntlet opens for `results: channel:tap`); run by hand, TAP on stdout.
#
# Why a submission cannot forge the result: the learner's script runs as a child of
# .gauntlet/runner/confine.py, in a Landlock domain of its own: it holds no descriptor
# but its stdin, stdout and stderr (never fd 3), cannot signal this shell or open its
# /proc/<pid>/fd, cannot read this file (tests/ is hidden) and cannot write the
# workspace. Its output is captured with $(...) into this shell's own variables, and
# the expected outputs are written here. Everything printed on stdout is for the
# learner to read in the log; the grader reads only fd 3.

[ -n "${GAUNTLET_RESULTS_FD:-}" ] || exec 3>&1
CONFINE=.gauntlet/runner/confine.py
passed=0
failed=0
n=0
nl='
'

# ok NAME / not_ok NAME MESSAGE: one TAP line on the results channel.
ok() {
    n=$((n + 1))
    passed=$((passed + 1))
    echo "ok $n - $1" >&3
    echo "PASS: $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    printf 'not ok %s - %s\n  ---\n  message: |-\n%s\n  ...\n' "$n" "$1" \
        "$(printf '%s\n' "$2" | sed 's/^/    /')" >&3
    echo "FAIL: $1"
    printf '%s\n' "$2"
}

# show TEXT: the first lines of TEXT in sed's unambiguous form (a tab is \t, and $
# marks the end of each line).
show() {
    if [ -z "$1" ]; then
        echo "    (nothing)"
    else
        printf '%s' "$1" 2>/dev/null | sed -n l 2>/dev/null | head -n 12 | sed 's/^/    /'
    fi
}

# check NAME INPUT EXPECTED_OUTPUT [ARGS...]: runs the script, compares stdout and the
# exit status (0). A "/" sentinel keeps trailing newlines, which $(...) would drop.
check() {
    name=$1
    input=$2
    expected=$3
    shift 3
    actual=$(printf '%s' "$input" | timeout -s KILL 3 $CONFINE sh ./dedupe.sh "$@" 2>/dev/null; echo "/$?")
    status=${actual##*/}
    actual=${actual%/*}
    if [ "$status" = 0 ] && [ "$actual" = "$expected" ]; then
        ok "$name"
    else
        not_ok "$name" "$(
            echo "input:";    show "$input"
            echo "expected:"; show "$expected"
            echo "got (exit status $status):"; show "$actual"
        )"
    fi
}

# check_usage NAME ARGS...: expects exit status 2, nothing on stdout, and a message on stderr.
check_usage() {
    name=$1
    shift
    out=$(printf 'a\n' | timeout -s KILL 3 $CONFINE sh ./dedupe.sh "$@" 2>/dev/null; echo "/$?")
    err=$(printf 'a\n' | timeout -s KILL 3 $CONFINE sh ./dedupe.sh "$@" 2>&1 >/dev/null)
    if [ "$out" = "/2" ] && [ -n "$err" ]; then
        ok "$name"
    else
        not_ok "$name" "expected exit status 2, no output and a message on stderr; got exit status ${out##*/}, stdout $(printf '%s' "${out%/*}" | head -c 100 | od -An -c | tr -s ' '), stderr of ${#err} characters"
    fi
}

check "keeps a text without repeats as it is" \
    "one${nl}two${nl}three${nl}" "one${nl}two${nl}three${nl}"
check "drops a repeat that follows its line" \
    "a${nl}a${nl}b${nl}" "a${nl}b${nl}"
check "drops repeats that are not adjacent, keeping the first occurrence" \
    "b${nl}a${nl}b${nl}c${nl}a${nl}b${nl}" "b${nl}a${nl}c${nl}"
check "prints nothing for empty input" "" ""
check "treats empty lines like any other line" \
    "${nl}x${nl}${nl}y${nl}${nl}" "${nl}x${nl}y${nl}"
check "compares spaces and tabs exactly" \
    "x${nl}x ${nl} x${nl}x	${nl}x${nl}" "x${nl}x ${nl} x${nl}x	${nl}"
check "is case-sensitive without -i" \
    "Apple${nl}apple${nl}APPLE${nl}" "Apple${nl}apple${nl}APPLE${nl}"
check "with -i, ignores case and keeps the first spelling" \
    "Apple${nl}apple${nl}pear${nl}APPLE${nl}Pear${nl}" "Apple${nl}pear${nl}" -i
check "ends the last line with a newline even when the input does not" \
    "a${nl}b${nl}a" "a${nl}b${nl}"
check "keeps backslashes and percent signs as they are" \
    'a\tb%s\n'"${nl}"'a\tb%s\n'"${nl}" 'a\tb%s\n'"${nl}"
check "does not expand wildcards" \
    "*${nl}/*${nl}*${nl}" "*${nl}/*${nl}"
big=$(awk 'BEGIN { for (i = 0; i < 20000; i++) print "line " (i % 500) }')
bigexpected=$(awk 'BEGIN { for (i = 0; i < 500; i++) print "line " i }')
check "handles 20000 lines quickly" "${big}${nl}" "${bigexpected}${nl}"
check_usage "an unknown option exits with status 2 and a usage message" -x
check_usage "two arguments exit with status 2 and a usage message" -i -i

# The plan goes last (TAP allows it): a run cut short has none, which Gauntlet counts
# as incomplete.
echo "1..$n" >&3
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
