#!/bin/sh
# End-to-end: CPython's own regression tests under `arenatrace record`
# give the result they give untraced, for CPython 3.8, 3.11 and 3.13
# (pyenv's or the system's, whichever are installed).  Each module runs
# untraced first (its time and its result on this machine: a test that
# fails here for reasons of the environment must fail the same way
# traced), then traced with its traces in a temporary directory, deleted
# after each module.  Compared: the exit status and every test's outcome
# (passed, failed, error, skipped: the ids from regrtest's --junit-xml,
# which the children's stderr cannot garble as it does -v's lines; the -v
# output is kept for the diagnosis, in DIR with REGRTEST_LOGS=DIR).  A
# traced run that takes more than 8 times the untraced time plus 30 s has
# hung: a failure, never a skip.  Times go to the output as # lines.
#
# make test runs the tests that reproduce issue 13's defects alone (-m),
# test_json under 3.8 and test_subprocess under 3.13; ARENATRACE_LONG=1
# runs the whole matrix: test_subprocess, test_threading, test_os,
# test_signal, test_json, test_gc, test_weakref, and the pool, process and
# queue tests of test_multiprocessing_forkserver and _spawn (a module a
# build does not ship is skipped, by name).
. "$(dirname "$0")/lib.sh"
skip_under_asan "CPython's regression tests under the tracer"
AT=$(realpath "$AT")
cd "$TMP" || exit 1
ulimit -c 0

# python_for X.Y MODULE: the first interpreter of that version on the
# machine that has the regression test MODULE (builds may leave tests out)
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] && echo "$v $py"
done >pythons
python_for() {
	for _pf in $(awk -v v="$1" '$1 == v { print $2 }' pythons); do
		if "$_pf" -c "import test.$2" >/dev/null 2>&1; then
			echo "$_pf"
			return
		fi
	done
}

# outcomes XML: one line per test case, "ID OUTCOME", sorted
outcomes() {
	python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
seen = set()
for tc in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    outcome = "passed"
    for child in tc:
        if child.tag in ("failure", "error", "skipped"):
            outcome = child.tag
    seen.add("%s %s" % (tc.get("name"), outcome))
print("\n".join(sorted(seen)))
PY
}

# summary FILE: "N failed, N errors, N skipped of N"
summary() {
	awk '{ n++; c[$2]++ } END { printf "%d failed, %d errors, %d skipped of %d", c["failure"],
		c["error"], c["skipped"], n }' "$1"
}

# regrtest DEFECTS V MODULE [ARGS...]: the module (with regrtest ARGS, such
# as -m PATTERN) untraced, then traced, under CPython V; two TAP tests:
# same status without a hang, same outcome of every test.  DEFECTS names
# what the comparison catches (issue 13's numbers), for the description.
regrtest() {
	_rd=$1 _rv=$2 _rm=$3
	shift 3
	_rpy=$(python_for "$_rv" "$_rm")
	_rtag="python $_rv $_rm${*:+ $*}"
	if [ -z "$_rpy" ]; then
		skip "$_rtag ($_rd)" "no CPython $_rv here with test.$_rm"
		skip "$_rtag: every test's outcome" "no CPython $_rv here with test.$_rm"
		return
	fi
	rm -rf rt tr
	mkdir rt tr
	_r0=$(now_ms)
	limited 1800 "$_rpy" -m test -v --tempdir "$TMP/rt" --junit-xml "$TMP/plain.xml" \
		"$_rm" "$@" </dev/null >plain.log 2>&1
	_rwant=$?
	_rplain=$(($(now_ms) - _r0))
	_rlimit=$((_rplain * 8 / 1000 + 30))
	rm -rf rt
	mkdir rt
	_r0=$(now_ms)
	limited "$_rlimit" "$AT" record -o "$TMP/tr/t.atr" -- "$_rpy" -m test -v --tempdir "$TMP/rt" \
		--junit-xml "$TMP/traced.xml" "$_rm" "$@" </dev/null >traced.log 2>&1
	_rgot=$?
	_rtraced=$(($(now_ms) - _r0))
	reap
	_rtraces=$(find tr -name '*.atr' | wc -l)
	_rbytes=$(du -sk tr | cut -f1)
	rm -rf tr rt
	echo "# $_rtag: untraced $((_rplain / 1000)).$((_rplain % 1000 / 100)) s (status $_rwant)," \
		"traced $((_rtraced / 1000)).$((_rtraced % 1000 / 100)) s (status $_rgot)," \
		"$_rtraces traces, $_rbytes KiB"
	if [ -s plain.xml ]; then
		outcomes plain.xml >plain.res
	else
		echo "# $_rtag: the untraced run wrote no results: $(tail -n 1 plain.log)"
		: >plain.res
	fi
	if [ ! -s plain.res ]; then
		not_ok "$_rtag ($_rd): no test ran untraced (status $_rwant), nothing to compare"
	elif hung "$_rgot"; then
		_rwhy="killed after $_rlimit s, untraced $((_rplain / 1000)) s"
		not_ok "$_rtag ($_rd): hung under the tracer ($_rwhy)"
		grep -E '^test[^ ]* \(.*\) \.\.\.' traced.log | tail -n 2 | sed 's/^/# last started: /'
	elif [ "$_rgot" -ne "$_rwant" ]; then
		not_ok "$_rtag ($_rd): status $_rgot traced, $_rwant untraced"
		grep -v '^arenatrace: ' traced.log | tail -n 4 | sed 's/^/# traced: /'
	else
		ok "$_rtag ($_rd): same status as untraced ($_rgot; $(summary plain.res))"
	fi
	if [ -s traced.xml ]; then
		outcomes traced.xml >traced.res
	else
		: >traced.res
	fi
	if [ -s plain.res ] && cmp -s plain.res traced.res; then
		ok "$_rtag: every test's outcome as untraced"
	else
		not_ok "$_rtag: test outcomes differ from untraced ($(summary traced.res) traced)"
		diff plain.res traced.res | grep '^[<>]' | head -n 12 | sed 's/^/# /'
	fi
	if [ -n "${REGRTEST_LOGS:-}" ]; then
		_rlog="$REGRTEST_LOGS/$_rv.$_rm$(echo "$*" | tr -c 'A-Za-z0-9_\n' .)"
		cp plain.log "$_rlog.plain.log"
		cp traced.log "$_rlog.traced.log"
	fi
	rm -f plain.xml traced.xml plain.log traced.log
}

# --- the tests that reproduce a defect, alone ---
for v in 3.8 3.11 3.13; do
	regrtest "defect 1" "$v" test_subprocess -m test_pass_fds_redirected
	regrtest "defect 4" "$v" test_threading -m test_3_join_in_forked_from_thread
done
# a failed exec ends the process's trace and frees its descriptor; the
# pipe the test opens next takes that number, which the child's tracer
# holds, so the child sees the "non-inheritable" descriptor open
regrtest "defect 1" 3.13 test_os -m test_execvpe_with_bad_program -m test_pipe_spawnl
# --- whole modules ---
# what each shows on the code of issue 13: test_subprocess, descriptors
# (1) and, up to 3.9, the children's write errors (2); test_threading, the
# hang (4); test_os, the descriptors (1); test_json under 3.8 (json.tool
# run by subprocess), the write errors (2); the others pass, and must stay so
regrtest "defect 2" 3.8 test_json
regrtest "defect 1" 3.13 test_subprocess
if [ "${ARENATRACE_LONG:-0}" = 1 ]; then
	for v in 3.8 3.11 3.13; do
		for m in test_subprocess test_threading test_os test_signal test_json test_gc test_weakref; do
			case $v.$m in
			3.8.test_json | 3.13.test_subprocess) continue ;; # ran above
			*.test_subprocess) what="defects 1, 2" ;;
			*.test_threading) what="defect 4" ;;
			*.test_os) what="defect 1" ;;
			*) what="issue 13's module matrix" ;;
			esac
			regrtest "$what" "$v" "$m"
		done
		for m in test_multiprocessing_forkserver test_multiprocessing_spawn; do
			regrtest "defect 2, issue 13's module matrix" "$v" "$m" -m WithProcessesTestPool \
				-m WithProcessesTestProcess -m WithProcessesTestQueue
		done
	done
fi

done_testing
