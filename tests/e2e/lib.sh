# tests/e2e/lib.sh - TAP helpers for the shell suites (sourced).
# ARENATRACE_BUILD names the build directory (tests/run.sh sets it).
B=${ARENATRACE_BUILD:-build}
AT="$B/arenatrace"
SYNTH="$B/atr-synth"
T_N=0
T_FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $1"; }
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
done_testing() { echo "1..$T_N"; [ "$T_FAIL" -eq 0 ]; }

# expect_error DESC PATTERN CMD...: exit status 2, exactly one line on
# stderr, starting "arenatrace: " and containing PATTERN.
expect_error() {
	d=$1 pat=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "^arenatrace: .*$pat" "$TMP/err"; then
		ok "$d"
	else
		not_ok "$d (status $rc, $lines lines: $(head -c 300 "$TMP/err"))"
	fi
}

# skip_under_asan DESC: an ASan-built preload library cannot run inside
# programs that are not (ASan must come first): under SAN=address a tracer
# suite only says so and ends.  The plain and UBSan builds run it.
skip_under_asan() {
	if [ "${ARENATRACE_SAN:-}" = address ]; then
		skip "$1" "preload library under SAN=address"
		done_testing
		exit 0
	fi
}

# cpython_interpreters: every CPython on this machine, one path a line:
# pyenv's (when pyenv is installed) and the system python3.
cpython_interpreters() {
	if command -v pyenv >/dev/null 2>&1; then
		for p in "$(pyenv root)"/versions/*/bin/python3; do [ -x "$p" ] && echo "$p"; done
	fi
	[ -x /usr/bin/python3 ] && echo /usr/bin/python3
}

# cpython_version PY: "X.Y" for a CPython 3.8 or newer, else nothing
cpython_version() {
	"$1" -c 'import sys; print("%d.%d" % sys.version_info[:2] if sys.version_info >= (3, 8) else "")' \
		2>/dev/null
}

# strip_record_table IN OUT: IN without the table `arenatrace record` ends
# with (from its last "arenatrace: N trace(s) written ..." line on), i.e.
# what the traced program itself wrote to stderr.
strip_record_table() {
	awk '{ l[NR] = $0 } /^arenatrace: [0-9]+ traces? written .*:$/ { t = NR }
		END { n = t ? t - 1 : NR; for (i = 1; i <= n; i++) print l[i] }' "$1" >"$2"
}
