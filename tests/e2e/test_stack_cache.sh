#!/bin/sh
# End-to-end: the tracer's stack cache (tracer/tr_ucache.c) gives exactly
# the stacks a full unwind gives.
#  - tests/progs/ustacks (stacks that repeat, and stacks built to look like
#    them: the same return address and stack pointer under another caller, a
#    frame pointer that moves, a realigned frame whose CFA is read from under
#    its rbp, recursion, longjmp, more call sites than a thread keeps, five
#    threads) with ARENATRACE_STACK_CACHE=check, which unwinds every hit in
#    full as well: no hit differs, and most allocations are hits;
#  - its trace with the cache and without it (one thread, no address
#    randomisation): the same records, stack for stack;
#  - 2000 threads that come and go: their kept stacks go with them;
#  - stacks of 48 and of 120 frames (cut at the 64 the tracer records), two
#    stacks of one key in turn, and a Python 3.8-3.10 program a dozen calls
#    deep (some 50 C frames): kept and served like the others;
#  - real programs (sort, git, sqlite3, gcc, python3) in check mode: no hit
#    differs, in any of their processes.
. "$(dirname "$0")/lib.sh"
skip_under_asan "the stack cache under the tracer"
AT=$(realpath "$AT")
US=$(realpath "$B/tests/progs/ustacks")
cd "$TMP" || exit 1

# hits FILE: "hits wrong processes" summed over check mode's lines
hits() {
	awk '{h += $4; w += $6; n++} END {printf "%d %d %d\n", h, w, n}' "$1" 2>/dev/null
}

"$US" >plain.out
ARENATRACE_STACK_CACHE=check:"$TMP/us.txt" "$AT" record -o us.atr -- "$US" >traced.out 2>/dev/null
rc=$?
check "ustacks: same output and status under the tracer" sh -c "[ $rc -eq 0 ] && cmp -s plain.out traced.out"
allocs=$(sed -n 's/^\([0-9]*\) allocations$/\1/p' plain.out)
set -- $(hits us.txt)
h=${1:-0} w=${2:-1}
if [ "$w" -eq 0 ] && [ "$h" -gt 0 ]; then
	ok "ustacks: $h hits, each the stack a full unwind gives"
else
	not_ok "ustacks: $w of $h hits differ from a full unwind"
fi
# most of its allocations repeat the one before: the cache must serve them
if [ -n "$allocs" ] && [ $((h * 2)) -ge "$allocs" ]; then
	ok "ustacks: hits for at least half of the $allocs allocations ($h)"
else
	not_ok "ustacks: $h hits for ${allocs:-?} allocations"
fi

# with and without the cache: the same trace (times and process ids aside)
if command -v setarch >/dev/null 2>&1 && setarch -R true 2>/dev/null; then
	for m in 0 1; do
		ARENATRACE_STACK_CACHE=$m setarch -R "$AT" record -o "one$m.atr" -- "$US" 0 >/dev/null 2>&1
		"$AT" dump "one$m.atr" | cut -d' ' -f3- |
			grep -v -E '^t[0-9]+ (header|thread|end|time)( |$)' >"one$m.txt"
	done
	stacks=$(grep -c ' stack id=' one1.txt)
	events=$(grep -c -E ' (malloc|calloc) ' one1.txt)
	if [ "$events" -gt 100000 ] && cmp -s one0.txt one1.txt; then
		ok "ustacks, one thread: the same $stacks stacks and $events allocations with the cache and without"
	else
		not_ok "ustacks, one thread: the traces with and without the cache differ ($events allocations)"
		diff one0.txt one1.txt | head -5 | sed 's/^/# /'
	fi
else
	skip "ustacks with and without the cache" "setarch -R not available"
fi

# a thread's kept stacks go with it (a table of some 60 KiB each): 2000
# threads that come and go leave the process no bigger than without the
# cache
m0=$(ARENATRACE_STACK_CACHE=0 "$AT" record -o cg0.atr -- "$US" come-and-go 2>/dev/null | sed -n 's/ KiB$//p')
rm -f cg.txt
m1=$(ARENATRACE_STACK_CACHE=check:"$TMP/cg.txt" "$AT" record -o cg1.atr -- "$US" come-and-go 2>/dev/null |
	sed -n 's/ KiB$//p')
set -- $(hits cg.txt)
if [ -n "$m0" ] && [ -n "$m1" ] && [ "$m1" -le $((m0 + 1024)) ] && [ "${1:-0}" -ge 2000 ] && [ "${2:-1}" -eq 0 ]; then
	ok "2000 short-lived threads: $m1 KiB at the end (without the cache $m0), $1 hits"
else
	not_ok "2000 short-lived threads: ${m1:-?} KiB at the end against ${m0:-?} without the cache (${1:-?} hits, ${2:-?} wrong)"
fi

# deep stacks are kept too: 48 frames, and 120 cut at the 64 recorded
ARENATRACE_STACK_CACHE=check:"$TMP/deep.txt" "$AT" record -o deep.atr -- "$US" deep >deep.out 2>/dev/null
allocs=$(sed -n 's/^\([0-9]*\) allocations$/\1/p' deep.out)
set -- $(hits deep.txt)
if [ -n "$allocs" ] && [ "${2:-1}" -eq 0 ] && [ $((${1:-0} * 10)) -ge $((allocs * 9)) ]; then
	ok "ustacks deep: $1 hits for $allocs allocations 48 and 120 frames down, none differs"
else
	not_ok "ustacks deep: ${1:-?} hits (${2:-?} differ) for ${allocs:-?} allocations"
fi
# two stacks of one key in turn (the same return address and stack
# pointer, another caller above): both kept
ARENATRACE_STACK_CACHE=check:"$TMP/alt.txt" "$AT" record -o alt.atr -- "$US" alternate >alt.out 2>/dev/null
allocs=$(sed -n 's/^\([0-9]*\) allocations$/\1/p' alt.out)
set -- $(hits alt.txt)
if [ -n "$allocs" ] && [ "${2:-1}" -eq 0 ] && [ $((${1:-0} * 10)) -ge $((allocs * 9)) ]; then
	ok "ustacks alternate: $1 hits for $allocs allocations from two stacks of one key, none differs"
else
	not_ok "ustacks alternate: ${1:-?} hits (${2:-?} differ) for ${allocs:-?} allocations"
fi
# a Python before 3.11 calls its eval loop again for every Python call: a
# dozen calls make some 50 C frames
py_old=
for p in $(cpython_interpreters); do
	case $(cpython_version "$p") in 3.8 | 3.9 | 3.10) py_old=$p && break ;; esac
done
if [ -n "$py_old" ]; then
	cat >deep.py <<'EOF2'
def work(d):
    if d:
        return work(d - 1)
    out = []
    for i in range(100000):
        out.append({"k": str(i), "v": [i, i + 1]})
        if len(out) > 1000:
            out.clear()
work(12)
EOF2
	rm -f deep.txt
	ARENATRACE_STACK_CACHE=check:"$TMP/deep.txt" "$AT" record -o pydeep.atr -- "$py_old" deep.py >/dev/null 2>&1
	events=$("$AT" info --json pydeep.atr | sed -n 's/.*"events": \([0-9]*\),.*/\1/p')
	set -- $(hits deep.txt)
	# about half the events are allocations: most of them hits
	if [ -n "$events" ] && [ "${2:-1}" -eq 0 ] && [ $((${1:-0} * 4)) -ge "$events" ]; then
		ok "python $(cpython_version "$py_old"), 13 calls deep: $1 hits in $events events, none differs"
	else
		not_ok "python $(cpython_version "$py_old"), 13 calls deep: ${1:-?} hits (${2:-?} differ) in ${events:-?} events"
	fi
	rm -f pydeep.atr
else
	skip "a Python 3.8-3.10 program a dozen calls deep" "no CPython 3.8-3.10 here"
fi

# real programs, every process they start
have() { command -v "$1" >/dev/null 2>&1; }
seq 100000 | sort -R >nums.txt
printf '#include <stdio.h>\nstruct s { int a; };\nint f(int x) { struct s v = {x}; return v.a * 3; }\nint main(void) { printf("%%d\\n", f(4)); return 0; }\n' >t.c
real() {
	d=$1
	shift
	rm -f real.txt
	ARENATRACE_STACK_CACHE=check:"$TMP/real.txt" "$AT" record -o real.atr -- "$@" >/dev/null 2>&1
	set -- $(hits real.txt)
	if [ "${3:-0}" -ge 1 ] && [ "${2:-1}" -eq 0 ]; then
		ok "$d: $1 hits in $3 process(es), each the stack a full unwind gives"
	else
		not_ok "$d: ${2:-?} of ${1:-?} hits differ (${3:-0} processes checked)"
	fi
	rm -f real*.atr
}
if have sort; then real "sort -n" sort -n nums.txt; else skip "sort" "not installed"; fi
if have git; then
	git init -q repo && (cd repo && for i in 1 2 3; do echo $i >f$i; git add f$i
		git -c user.email=t@t -c user.name=t commit -qm "c$i"; done)
	real "git log" git -C repo log --stat
else skip "git" "not installed"; fi
if have sqlite3; then
	real "sqlite3" sqlite3 :memory: "create table t(a,b); with recursive c(x) as (select 1 union all
		select x+1 from c where x<20000) insert into t select x, hex(x) from c; select count(*) from t;"
else skip "sqlite3" "not installed"; fi
if have gcc; then real "gcc -O2 -c (the driver and cc1)" gcc -O2 -c t.c -o t.o
else skip "gcc" "not installed"; fi
if [ -x /usr/bin/python3 ]; then
	real "python3 building dicts" /usr/bin/python3 -c \
		"import json; d = {str(i): [i] * 3 for i in range(50000)}; print(len(json.dumps(d)))"
else skip "python3" "not installed"; fi

done_testing
