#!/bin/sh
# tests/run.sh BUILD_DIR SUITE... - runs test suites that speak TAP (cmocka
# binaries with CMOCKA_MESSAGE_OUTPUT=TAP, fuzz corpus replays and the
# shell suites in tests/e2e/), each SUITE one command line; shows their output, and ends with one line
# "N passed, N failed" summing every suite.  Exit status 1 on any failure.
# A suite that crashes or exits non-zero without reporting a failure
# counts as one failed test.
set -u
B=$1
shift
export CMOCKA_MESSAGE_OUTPUT=TAP
export ARENATRACE_BUILD="$B"
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for suite in "$@"; do
	echo "# suite $suite"
	sh -c "$suite" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
	if [ -n "$plan" ] && [ $((p + f)) -lt "$plan" ]; then
		echo "# $suite: planned $plan tests, reported $((p + f))"
		f=$((f + plan - p - f))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $suite exited with status $rc"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
