#!/bin/sh
# End-to-end: replay and report read a trace once while they find and
# analyse its moments (a leading replay on a second thread says where the
# peak and the worst moment are, the analysing one stays a lag behind and
# takes them when it gets there).  What a user sees must be what two
# replays (a first to find the moments, a second to analyse them) show:
# on real programs (tests/progs/plateau.c: 200,000 blocks and marks;
# tests/python/evict.py under the first CPython 3.8+ here, with two models
# and --gc off; a CPython program with marks, 5 and 31 of them; a CPython
# program that forks, replayed through its parents' traces, and with its
# parent's trace cut short), `replay --json` and `report`'s CSV files are the same
# byte for byte with ARENATRACE_TWO_PASSES=1, and with the lag at its
# smallest (ARENATRACE_FOLLOW_LAG=1: moments overtaken and taken again
# thousands of times).  The trace is read by two threads at once (the
# defaults of a trace with more than 20 marks need a first replay to rank
# them: read again then); moments that need no look ahead (a mark, the
# end) are analysed by one replay on one thread, which reads the trace
# once.  A damaged trace is one error line, not one per replay.
. "$(dirname "$0")/lib.sh"
skip_under_asan "one-pass moments (the tracer in a plain program)"
AT=$(realpath "$AT")
PROG=$(realpath "$B/tests/progs/plateau")
PYDIR=$(realpath "$(dirname "$0")/../python")
EXDIR=$(realpath "$(dirname "$0")/../../traces/examples")
cd "$TMP" || exit 1

# same TAG TRACE ARGS...: replay --json the three ways; ok when identical
same() {
	_tag=$1 _t=$2
	shift 2
	"$AT" replay --json "$@" "$_t" >one.json 2>one.err
	_s1=$?
	ARENATRACE_TWO_PASSES=1 "$AT" replay --json "$@" "$_t" >two.json 2>two.err
	_s2=$?
	ARENATRACE_FOLLOW_LAG=1 "$AT" replay --json "$@" "$_t" >lag.json 2>lag.err
	_s3=$?
	if [ $_s1 -eq 0 ] && [ $_s2 -eq 0 ] && [ $_s3 -eq 0 ] && cmp -s one.json two.json &&
		cmp -s lag.json two.json && cmp -s one.err two.err && cmp -s lag.err two.err &&
		python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["models"][0]["moments"] else 1)' one.json; then
		ok "$_tag: one pass, two passes and the smallest lag agree"
	else
		not_ok "$_tag: one pass ($_s1), two ($_s2), smallest lag ($_s3) differ"
		diff one.json two.json | head -6 | sed 's/^/# /'
		diff lag.json two.json | head -6 | sed 's/^/# /'
		diff one.err two.err | head -4 | sed 's/^/# /'
	fi
}

"$AT" record -o plateau.atr -- "$PROG" >out.txt 2>err.txt
check "the program runs traced" grep -qx done out.txt
same "plateau, peak worst end and its marks by label" plateau.atr --model cpython-3.13 \
	--at peak --at worst --at plateau --at refill --at end
same "plateau, two models" plateau.atr --model cpython-3.13,cpython-3.8 --at worst --at peak
same "plateau, the defaults (marks: two replays)" plateau.atr --model cpython-3.13
same "plateau, a time and the end" plateau.atr --model cpython-3.12 --at 1ms --at end

# two threads read the trace at once: the trace opened by two threads
if command -v strace >/dev/null 2>&1; then
	strace -f -e trace=openat -o st.txt "$AT" replay --model cpython-3.13 --at peak \
		--at worst plateau.atr >/dev/null 2>&1
	# (the main thread also opens it to follow exec and fork links)
	tids=$(grep 'plateau.atr' st.txt | grep -v ENOENT | awk '{print $1}' | sort -u | wc -l)
	check "one pass: the trace is opened by two threads ($tids)" test "$tids" -eq 2
	strace -f -e trace=openat -o st1.txt "$AT" replay --model cpython-3.13 --at plateau \
		--at end plateau.atr >/dev/null 2>&1
	tids=$(grep 'plateau.atr' st1.txt | grep -v ENOENT | awk '{print $1}' | sort -u | wc -l)
	check "a mark and the end need no lead: one thread opens the trace ($tids)" \
		test "$tids" -eq 1
else
	skip "the trace read by two threads" "strace is not installed"
fi

# a damaged trace: the error once
head -c 300000 plateau.atr >cut.atr
"$AT" replay --at peak --at end cut.atr >/dev/null 2>cut.err
st=$?
check "a cut trace: exit 2 and one error line (status $st, $(wc -l <cut.err) lines)" \
	test $st -eq 2 -a "$(grep -c . cut.err)" -eq 1

PY=
for p in $(cpython_interpreters); do
	[ -n "$(cpython_version "$p")" ] && PY=$p && break
done
if [ -z "$PY" ]; then
	skip "python: one pass against two" "no CPython 3.8+ here"
	done_testing
	exit
fi
echo "# python: $PY ($(cpython_version "$PY"))"
"$AT" record -o evict.atr -- "$PY" "$PYDIR/evict.py" >out.txt 2>err.txt
check "python: the program runs traced" test $? -eq 0
same "python: the defaults (exit recorded)" evict.atr
same "python: two models, --gc off" evict.atr --model cpython-3.12,cpython-3.8 --gc off
same "python: exit, end, peak, worst by hand" evict.atr --at exit --at end --at peak --at worst
same "python: exit and end, no lead" evict.atr --model cpython-3.12,cpython-3.8 --at exit --at end

# marks: a label met once and one met in every round (named LABEL#N by
# default), and a program with more marks than the defaults take (ranked
# by waste: two replays)
cat >rounds.py <<'PY'
import ctypes, sys
mark = ctypes.PyDLL(None).arenatrace_mark
rounds = int(sys.argv[1])
mark(b"setup")
keep = []
for r in range(rounds):
    objs = [{"k": i, "v": str(i) * 3} for i in range(60000)]
    keep.extend(objs[::500])
    del objs
    mark(b"round")
PY
"$AT" record -o rounds.atr -- "$PY" rounds.py 4 >/dev/null 2>&1
same "python: the defaults with 5 marks, one label 4 times" rounds.atr
check "python: the defaults name a label met again LABEL#N, from #1" python3 - one.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
marks = [x["label"] for x in m["moments"] if x["kind"] == "mark"]
sys.exit(0 if marks == ["setup", "round#1", "round#2", "round#3", "round#4"] else f"{marks}")
PY
"$AT" record -o rounds30.atr -- "$PY" rounds.py 30 >/dev/null 2>&1
same "python: the defaults with 31 marks (the 20 with the most waste)" rounds30.atr

# two_reports TRACE A B FILE...: report TRACE into A in one pass and into B
# with two replays (stdout A.txt, B.txt; stderr A.err, B.err), their status
# in s1 and s2, and the names of the FILEs (B's; globs, quoted: matched
# once the reports are written) that differ in differ
two_reports() {
	_t=$1 _a=$2 _b=$3
	shift 3
	rm -rf "$_a" "$_b"
	"$AT" report -o "$_a" "$_t" >"$_a.txt" 2>"$_a.err"
	s1=$?
	ARENATRACE_TWO_PASSES=1 "$AT" report -o "$_b" "$_t" >"$_b.txt" 2>"$_b.err"
	s2=$?
	differ=
	# shellcheck disable=SC2048 # the globs match here
	for f in $*; do cmp -s "$f" "$_a/$(basename "$f")" || differ="$differ $(basename "$f")"; done
}

two_reports evict.atr r1 r2 'r2/*.csv'
check "python: report's summary and CSV files as with two replays (status $s1 $s2;$differ)" \
	test $s1 -eq 0 -a $s2 -eq 0 -a -z "$differ" -a -s r1/report.html
sed 's/r1/r2/' r1.txt >r1s.txt
check "python: report's summary as with two replays" cmp -s r1s.txt r2.txt

# the bundled workload (1.7 M requests, thousands of call sites, the
# interpreter's native frames): report's leading replay groups the call
# sites and resolves their frames while the other replay runs on; the
# files, the summary and the symbolizer's warnings are what two replays give
(cd "$EXDIR" && "$AT" record -o "$TMP/wl.atr" -- "$PY" workload.py) \
	>/dev/null 2>&1
two_reports wl.atr wla wlb 'wlb/*.csv' wlb/report.html
sites=$(grep -c '' wla/callsites.csv 2>/dev/null || echo 0)
check "workload: report's files as with two replays (status $s1 $s2, $sites call-site rows;$differ)" \
	test $s1 -eq 0 -a $s2 -eq 0 -a -z "$differ" -a "$sites" -gt 1000
sed 's/wla/wlb/' wla.txt >wlas.txt
check "workload: report's summary and warnings as with two replays" \
	sh -c 'cmp -s wlas.txt wlb.txt && cmp -s wla.err wlb.err'

# a forked child, replayed through its parent's trace
mkdir run && cp "$PYDIR/pyfork.py" .
"$AT" record -o "$TMP/run/p.atr" -- "$PY" -W ignore::DeprecationWarning pyfork.py >f.out 2>f.err
set -- run/p.*.*.atr
if [ -f "$1" ]; then
	grand=$1
	child=$(ls run/p.*.atr | grep -v "$grand" | grep -v "^run/p.atr$" | head -n 1)
	same "python: a forked grandchild through two parents' traces" "$grand"
	# the parent's trace cut short: found beside the child (the path its
	# header names is gone), the child replayed alone after all
	mkdir short && cp "$child" short/
	head -c $(($(wc -c <run/p.atr) / 8)) run/p.atr >short/p.atr
	rm -rf run
	same "python: a child whose parent's trace is cut short" "short/${child#run/}"
	check "python: the cut parent's trace said once" \
		test "$(grep -c 'replaying the child alone' one.err)" -eq 1
else
	not_ok "python: the forking program left no grandchild's trace"
fi
done_testing
