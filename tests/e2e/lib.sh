# tests/e2e/lib.sh - TAP helpers for the shell suites (sourced).
# ARENATRACE_BUILD names the build directory (tests/run.sh sets it).
B=${ARENATRACE_BUILD:-build}
AT="$B/arenatrace"
SYNTH="$B/atr-synth"
T_N=0
T_FAIL=0
TMP=$(mktemp -d)
trap 'reap; rm -rf "$TMP"' EXIT

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

# replay_exact TRACE: replay --check-snapshots of TRACE into out.txt and
# err.txt; status 0 when it passed with every address and arena as the
# interpreter's and no anomaly.
replay_exact() {
	"$AT" replay --check-snapshots "$1" >out.txt 2>err.txt &&
		grep -q ' 0 addresses unlike' err.txt &&
		grep -q ' 0 arena mismatches, 0 anomalies' err.txt
}

# strip_record_table IN OUT: IN without the table `arenatrace record` ends
# with (from its last "arenatrace: N trace(s) written ..." line on), i.e.
# what the traced program itself wrote to stderr.
strip_record_table() {
	awk '{ l[NR] = $0 } /^arenatrace: [0-9]+ traces? written .*:$/ { t = NR }
		END { n = t ? t - 1 : NR; for (i = 1; i <= n; i++) print l[i] }' "$1" >"$2"
}

# limited SECS CMD...: runs CMD under timeout(1), which sends SIGKILL to
# CMD's whole process group after SECS seconds (SIGTERM would not do: a
# process whose live threads all block it never ends, and the launcher
# would die of it first): a hang is status 124 or 137 (hung STATUS).  CMD
# carries ARENATRACE_E2E_RUN=$TMP in its environment, so that reap can
# end, by pid, what left that process group (a new session, a reparented
# child).
limited() {
	_lim_secs=$1
	shift
	ARENATRACE_E2E_RUN=$TMP timeout -s KILL "$_lim_secs" "$@"
}
hung() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

# reap: SIGKILL to every process still running that limited started (the
# environment of one of its threads has this suite's ARENATRACE_E2E_RUN:
# the first thread's is gone when it left by pthread_exit); lib.sh reaps
# at exit.
reap() {
	for _reap_f in $(grep -lzx "ARENATRACE_E2E_RUN=$TMP" /proc/[0-9]*/task/[0-9]*/environ \
		2>/dev/null); do
		_reap_pid=${_reap_f#/proc/}
		_reap_pid=${_reap_pid%%/*}
		[ "$_reap_pid" = "$$" ] || kill -KILL "$_reap_pid" 2>/dev/null
	done
}

# now_ms: milliseconds of wall-clock time, for durations
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# traces_sound ERR DIR [complete]: the launcher's list of traces (the rows
# of the table in ERR, or the .traces list it names, paths relative to DIR,
# where record ran) names distinct files, each one there, not empty and read by
# `arenatrace info` (with "complete": each has its end record); and every
# .atr file under DIR is one it names.  Prints what is wrong; status 1 then.
traces_sound() {
	_ts_err=$1 _ts_dir=$2 _ts_complete=${3:-}
	# the table's rows, or, past 20 traces, the list it names (all of them)
	_ts_list=$(sed -n 's/.* more traces of other processes.*(all of them in \(.*\))$/\1/p' "$_ts_err")
	if [ -n "$_ts_list" ]; then
		case $_ts_list in /*) ;; *) _ts_list=$_ts_dir/$_ts_list ;; esac
		tail -n +2 "$_ts_list" | cut -f5 >"$TMP/ts.listed"
	else
		sed -n 's/^arenatrace: [ *] *[0-9][0-9]* .* \([^ ]*\)$/\1/p' "$_ts_err" >"$TMP/ts.listed"
	fi
	rm -f "$TMP/ts.real"
	_ts_bad=0 _ts_n=0
	while IFS= read -r _ts_f; do
		_ts_n=$((_ts_n + 1))
		case $_ts_f in /*) _ts_p=$_ts_f ;; *) _ts_p=$_ts_dir/$_ts_f ;; esac
		[ -f "$_ts_p" ] && realpath "$_ts_p" >>"$TMP/ts.real"
		if [ ! -f "$_ts_p" ]; then
			echo "listed but not there: $_ts_f"
			_ts_bad=1
		elif [ ! -s "$_ts_p" ]; then
			echo "listed and empty (0 bytes): $_ts_f"
			_ts_bad=1
		elif ! "$AT" info --json "$_ts_p" >"$TMP/ts.json" 2>"$TMP/ts.err"; then
			echo "unreadable: $_ts_f: $(head -c 200 "$TMP/ts.err")"
			_ts_bad=1
		elif [ -n "$_ts_complete" ] && ! grep -q '"complete": true' "$TMP/ts.json"; then
			echo "incomplete (no end record): $_ts_f"
			_ts_bad=1
		fi
	done <"$TMP/ts.listed"
	touch "$TMP/ts.real"
	sort "$TMP/ts.real" >"$TMP/ts.named"
	rm -f "$TMP/ts.real"
	if [ -n "$(uniq -d "$TMP/ts.named")" ]; then
		echo "listed twice: $(uniq -d "$TMP/ts.named" | head -n 3 | tr '\n' ' ')"
		_ts_bad=1
	fi
	find "$_ts_dir" -name '*.atr' -exec realpath {} + 2>/dev/null | sort >"$TMP/ts.found"
	_ts_extra=$(comm -23 "$TMP/ts.found" "$TMP/ts.named")
	if [ -n "$_ts_extra" ]; then
		echo "$(echo "$_ts_extra" | wc -l) trace(s) not listed, e.g. $(echo "$_ts_extra" | head -n 2 | tr '\n' ' ')"
		_ts_bad=1
	fi
	[ "$_ts_n" -gt 0 ] || { echo "no trace listed"; _ts_bad=1; }
	return "$_ts_bad"
}
