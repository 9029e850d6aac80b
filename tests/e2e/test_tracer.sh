#!/bin/sh
# End-to-end: `arenatrace record` and libarenatrace.so on the test programs
# of tests/progs: exact call counts, calls before tracing started counted as
# dropped, 8 threads freeing each other's blocks, the order across threads,
# fork/exec/system/posix_spawn, SIGKILL, options, failures.
. "$(dirname "$0")/lib.sh"
skip_under_asan "tracer end-to-end"
P="$B/tests/progs"
AT=$(realpath "$AT")
CHECK=$(realpath "$B/atr-check")
P=$(realpath "$P")
LIB=$(realpath "$B/libarenatrace.so")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1

# jq-less JSON access: json FILE EXPR (python3 expression on j)
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# --- exact counts: N iterations minus N = 0 (start-up calls of libc) ---
"$AT" record -o sc0.atr -- "$P/selfcount" 0 >sc0.out 2>/dev/null
"$AT" record -o sc.atr -- "$P/selfcount" 50 >sc.out 2>sc.err
check "selfcount under the tracer: return values and errno unchanged" test $? -eq 0
"$AT" info --json sc0.atr >sc0.json
"$AT" info --json sc.atr >sc.json
python3 - sc0.json sc.json sc.out <<'PY' >py.out 2>&1
import json, sys
base, run, want = (json.load(open(f)) for f in sys.argv[1:4])
for fn in ["malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
           "aligned_alloc", "memalign", "valloc", "pvalloc"]:
    got = run["calls"][fn] - base["calls"][fn]
    assert got == want[fn], (fn, got, want[fn])
assert run["failed"]["malloc"] - base["failed"]["malloc"] == want["failed_malloc"]
assert run["failed"]["posix_memalign"] == want["failed_posix_memalign"]
startup = sum(base["calls"].values())
print("ok start-up calls of libc: %d (%s)" % (startup, {k: v for k, v in base["calls"].items() if v}))
PY
if grep -q '^ok' py.out; then ok "info --json counts every call exactly; $(sed 's/^ok //' py.out)"
else not_ok "info --json counts every call exactly"; sed 's/^/# /' py.out; fi

# --- dropped: calls made before the tracer started are counted ---
# libearly.so, preloaded after the tracer, is initialised before it: its
# constructor's 10 calls reach the tracer before tracing starts.
LD_PRELOAD="$P/libearly.so" "$AT" record -o early.atr -- "$P/selfcount" 0 >/dev/null 2>&1
"$AT" info --json early.atr >early.json
d0=$(json sc0.json 'j["dropped"]')
d1=$(json early.json 'j["dropped"]')
check "the end record counts as dropped the 10 calls made before tracing started ($d0 without, $d1 with them)" \
	test "$((d1 - d0))" -eq 10
check "dump shows the count" sh -c "\"$AT\" dump early.atr | tail -n 1 | grep -q ' end .* dropped=$d1\$'"
check "info says it" sh -c "\"$AT\" info early.atr | grep -q '^events .* (and $d1 calls the tracer could not record'"

# --- a C program's trace through the pymalloc model (replay --layer malloc) ---
"$AT" replay --layer malloc --stats sc.atr >sc.stats 2>/dev/null
rc=$?
"$AT" replay --layer malloc --json sc.atr >sc.replay.json 2>/dev/null
calls=$(json sc.json 'sum(j["calls"].values())')
replayed=$(json sc.replay.json 'j["requests"]')
check "replay --layer malloc: every malloc-family call replayed ($replayed of $calls), statistics printed" \
	sh -c "test $rc -eq 0 && test '$replayed' = '$calls' && grep -q '^# arenas allocated current ' sc.stats"

# --- threads: a correct global order ---
"$AT" record -o th.atr -- "$P/threads" 20000 >th.out 2>/dev/null
check "threads: program output unchanged" grep -qx done th.out
"$CHECK" --after-mark go th.atr >th.check
check "8 threads, cross-thread frees: no allocation over a live address, no unknown free" \
	grep -qx 'malloc_free_unknown 0' th.check
check "8 threads: no allocation over a live address" grep -qx 'malloc_alloc_over_live 0' th.check
"$AT" info --json th.atr >th.json
check "threads: 9 threads recorded" test "$(json th.json 'j["threads"]')" -eq 9
"$AT" dump th.atr | grep -c ' thread tid=.*name="worker-' >th.names
check "threads: the names set with pthread_setname_np are recorded" test "$(cat th.names)" -eq 8

# --- the order across threads: blocks freed, addresses reused by other threads ---
# Per-thread order is not enough here: handoff's threads free each other's
# blocks while glibc gives the addresses back to their allocating threads.
"$AT" record -o ho.atr -- "$P/handoff" 40000 >ho.out 2>/dev/null
check "handoff: program output unchanged" grep -qx done ho.out
"$AT" replay --layer malloc --json ho.atr >ho.json 2>/dev/null
check "handoff replayed: no free of an unknown block, no allocation over a live one ($(json ho.json 'j["anomalies"]'))" \
	python3 -c 'import json; j = json.load(open("ho.json")); a = j["anomalies"]
assert j["requests"] >= 320000 and a["free_unknown"] == a["realloc_unknown"] == a["alloc_over_live"] == 0, j'
# frees of another thread's block; allocations at an address another thread freed
"$AT" dump ho.atr | awk '
function alloc(t, a) {
	if (a == "0x0") return
	reuses += a in freer; cross_reuses += a in freer && freer[a] != t
	owner[a] = t
}
function release(t, a) {
	if (a == "0x0" || !(a in owner)) return
	frees++; cross_frees += owner[a] != t
	freer[a] = t; delete owner[a]
}
$4 == "malloc" || $4 == "calloc" { alloc($3, $NF) }
$4 == "free" { sub(/^ptr=/, "", $5); release($3, $5) }
$4 == "realloc" { sub(/^ptr=/, "", $5); release($3, $5); alloc($3, $NF) }
END { print frees + 0, cross_frees + 0, reuses + 0, cross_reuses + 0 }' >ho.cross
read -r frees cross_frees reuses cross_reuses <ho.cross
check "and that order is tested: $cross_frees of $frees frees are of another thread's block, $cross_reuses of $reuses reuses of an address another thread freed" \
	test "$cross_frees" -ge 160000 -a "$cross_reuses" -ge 10000

# --- the same trace replayed through real allocators (replay --system) ---
for lib in "" /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libmimalloc.so.2; do
	want=${lib:+$(basename "$lib" | sed 's/\.so.*//; s/^lib//')}
	if [ -n "$lib" ] && [ ! -f "$lib" ]; then
		skip "replay --system under $want" "$(basename "$lib") not installed"
		continue
	fi
	LD_PRELOAD=$lib "$AT" replay --system --json th.atr >sys.json 2>/dev/null
	LD_PRELOAD=$lib "$AT" replay --system th.atr >sys.txt 2>/dev/null
	alloc=$(json sys.json 'j["system"]["allocator"]')
	check "replay --system under ${want:-glibc}: $alloc, $(json sys.json 'j["system"]["ns_per_op"]') ns a call, peak RSS $(json sys.json 'j["system"]["rss_peak_bytes"]')" \
		python3 -c 'import json, sys; j = json.load(open("sys.json")); y = j["system"]
want = sys.argv[1] or "libc"
assert want in y["allocator"], y
assert 0.9 * j["requests"] < y["ops"] <= j["requests"], y  # free(NULL) is not replayed
assert y["rss_peak_bytes"] >= y["rss_start_bytes"] > 0 and y["trace_threads"] == 9 and y["ns_per_op"] > 0' "$want"
	check "replay --system says the 9 threads ran in their global order on one" \
		grep -q "9 threads were replayed in their global order on one thread" sys.txt
done

# --- processes ---
"$AT" record -o fk.atr -- "$P/forker" >fk.out 2>fk.err
check "forker: exit status 0 and output unchanged" sh -c "test \$? -eq 0 && grep -q 'forker ok' fk.out"
n=$(ls fk*.atr | wc -l)
# the parent, the forked child, the child that allocates then execs and its
# program, the program of the child that execs at once (no trace of its
# own), system()'s shell and posix_spawn's echo
check "fork, fork+exec, system, posix_spawn: 7 traces ($n)" test "$n" -eq 7
rows=$(grep -c '^arenatrace: [ *] *[0-9][0-9]* ' fk.err)
listed=0
for f in $(sed -n 's/^arenatrace: [ *] *[0-9][0-9]* .* \([^ ]*\.atr\)$/\1/p' fk.err); do
	[ -f "$f" ] && listed=$((listed + 1))
done
check "record ends with a table of the 7 traces, each file there ($rows rows, $listed files)" \
	test "$rows" -eq 7 -a "$listed" -eq 7
check "the table marks the command's own trace" grep -q '^arenatrace: \* *[0-9]* .* fk.atr$' fk.err
complete=0
for f in fk*.atr; do
	"$AT" info --json "$f" >f.json && [ "$(json f.json 'j["complete"]')" = True ] &&
		complete=$((complete + 1))
done
check "every process's trace is complete ($complete of $n)" test "$complete" -eq "$n"
"$AT" info --json fk.atr >f.json
check "the parent's trace has its 3 fork records" test "$(json f.json 'j["forks"]')" -eq 3
execd=0 from=0
for f in fk.*.atr; do
	"$AT" info --json "$f" >f.json
	[ "$(json f.json 'j["exec"]')" = True ] && execd=$((execd + 1)) && ended=$(realpath "$f")
done
for f in fk.*.atr; do
	"$AT" info --json "$f" >f.json
	[ "$(json f.json 'j["exec_from"]')" = "${ended:-none}" ] && from=$((from + 1))
done
check "the child that allocated, then called exec, ends its trace with the exec flag" test "$execd" -eq 1
check "the program it exec'd names that trace in its header (exec_from)" test "$from" -eq 1
"$AT" record --no-follow-fork -o nf.atr -- "$P/forker" >/dev/null 2>&1
check "--no-follow-fork: only the parent is traced" test "$(ls nf*.atr | wc -l)" -eq 1

# --- the tracer's helper processes are invisible to the program ---
"$P/sigchld" >chld.plain
"$AT" record -o chld.atr -- "$P/sigchld" >chld.out 2>/dev/null
check "SIGCHLD: the traced parent and child get what they get untraced ($(tr '\n' ' ' <chld.out))" \
	sh -c "cmp -s chld.plain chld.out && grep -q 'child: 0' chld.out && grep -q 'parent: 1' chld.out"
check "SIGCHLD: and the child was traced" test "$(ls chld.*.atr 2>/dev/null | wc -l)" -eq 1

# --- descriptors: the program has its whole range ---
"$P/fdlimit" >fdl.plain
"$AT" record -o fdl.atr -- "$P/fdlimit" >fdl.out 2>/dev/null
check "a program opening descriptors up to its limit opens as many traced ($(cat fdl.out))" \
	sh -c "test \$? -eq 0 && cmp -s fdl.plain fdl.out"

PY=$(command -v python3)
if [ -n "$PY" ]; then
	PY=$("$PY" -c 'import sys; print(sys.executable)')
	"$PY" "$PYDIR/fdlimit.py" >fdp.plain 2>&1
	"$AT" record -o fdp.atr -- "$PY" "$PYDIR/fdlimit.py" >fdp.out 2>fdp.err
	rc=$?
	strip_record_table fdp.err fdp.err2
	cat fdp.err2 >>fdp.out
	check "descriptors open above a lowered limit: interpreters started with them run as untraced ($(tail -n 1 fdp.out))" \
		sh -c "test $rc -eq 0 && cmp -s fdp.plain fdp.out"
else
	skip "descriptors open above a lowered limit" "python3 not installed"
fi

# --- SIGKILL: nothing recorded is lost (the drain process writes it) ---
"$AT" record -o km.atr -- "$P/killme" km.pid >km.out 2>/dev/null &
launcher=$!
sleep 1
kill -9 "$(cat km.pid)"
wait $launcher
rc=$?
check "SIGKILL: record exits 128+9" test "$rc" -eq 137
last_printed=$(tail -n 1 km.out)
last_mark=$("$AT" dump km.atr 2>/dev/null | sed -n 's/.* mark label="\([0-9]*\)"$/\1/p' | tail -n 1)
# killme records mark i before it prints i: every printed number is a mark
check "SIGKILL: the trace decodes and holds every mark printed (last $last_mark, printed $last_printed)" \
	test "$last_mark" -ge "$last_printed"

# --- exec chains: which trace is the program ---
# a shim as pyenv's: a script that env runs with bash, which execs the program
mkdir -p shim
printf '#!/usr/bin/env bash\nset -e\nhere=$(dirname "$0")\nexec "%s/selfcount" 5\n' "$P" >shim/prog
chmod +x shim/prog
PATH="$PWD/shim:$PATH" "$AT" record -o chain.atr -- prog >chain.out 2>chain.err
check "exec chain: the command runs" grep -q . chain.out
main=$(sed -n 's/^arenatrace: \* *[0-9]* .* \([^ ]*\.atr\)$/\1/p' chain.err)
"$AT" info --json "${main:-none}" >m.json 2>/dev/null
check "exec chain: the table marks the trace of the program at its end ($main)" \
	sh -c "grep -q selfcount m.json && grep -q '\"clean_exit\": true' m.json"
"$AT" info --json chain.atr >c.json
check "exec chain: the first trace (env's) links to the next (exec_to)" \
	sh -c "grep -q '\"exec\": true' c.json && grep -q '\"exec_to\": \"' c.json"
"$AT" replay --layer malloc --json chain.atr >r.json 2>r.err
check "replay follows the chain to the program's trace, and says so in one line" \
	sh -c "test \$(wc -l <r.err) -eq 1 && grep -q 'ended by exec; reading .*$main' r.err &&
		test $(json r.json 'j["events"]') -eq $(json m.json 'j["events"]')"
"$AT" replay --no-follow-exec --layer malloc --json chain.atr >r2.json 2>r2.err
check "replay --no-follow-exec reads the trace given (env's)" \
	sh -c "test ! -s r2.err && test $(json r2.json 'j["events"]') -eq $(json c.json 'j["events"]')"

# --- many processes: the table shows 20, a list beside the trace has all ---
"$AT" record -o many.atr -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do /bin/true; done' 2>many.err
files=$(ls many*.atr | wc -l)
check "25 programs: the table has 20 rows and says where the rest are listed ($files traces)" \
	sh -c "test \$(grep -c '^arenatrace: [ *] *[0-9][0-9]* ' many.err) -eq 20 &&
		grep -q 'more traces of other processes.*(all of them in many.traces)' many.err"
check "many.traces lists every trace written, each file there" \
	sh -c "test \$(tail -n +2 many.traces | wc -l) -eq $files &&
		tail -n +2 many.traces | cut -f5 | xargs ls >/dev/null"

# --- options and exit status ---
"$AT" record -o ex.atr -- sh -c 'exit 3' 2>/dev/null
check "record exits with the command's status" test $? -eq 3
"$AT" record -o sig.atr -- sh -c 'kill -TERM $$' 2>/dev/null
check "record exits 128+N when signal N killed the command" test $? -eq 143
expect_error "record -o refuses to overwrite" "exists; not overwriting" "$AT" record -o ex.atr -- true
expect_error "record without a command" "no command" "$AT" record --no-stacks
expect_error "record --depth 0" "depth" "$AT" record --depth 0 -- true
"$AT" record --no-stacks -o ns.atr -- "$P/selfcount" 5 >/dev/null 2>&1
"$AT" info --json ns.atr >ns.json
check "--no-stacks: no stack nodes" test "$(json ns.json 'j["stacks"]')" -eq 0
"$AT" record --depth 1 -o d1.atr -- "$P/selfcount" 5 >/dev/null 2>&1
check "--depth 1: every stack is one frame" \
	sh -c "! '$AT' dump d1.atr | grep ' stack id=' | grep -qv 'parent=0 '"
"$AT" record -o mode.atr -- true 2>/dev/null
check "traces are created mode 0600" test "$(stat -c %a mode.atr)" = 600
mkdir dflt && (cd dflt && "$AT" record -- "$P/selfcount" 1 >/dev/null 2>&1)
check "default name arenatrace.<prog>.<pid>.atr in the current directory" \
	sh -c 'ls dflt | grep -qE "^arenatrace\.selfcount\.[0-9]+\.atr$"'
LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 "$AT" record -o pre.atr -- cat /proc/self/maps >maps.out 2>/dev/null
check "the user's LD_PRELOAD is kept" sh -c 'grep -q libm.so maps.out && grep -q libarenatrace.so maps.out'
LD_PRELOAD="$LIB" ARENATRACE_OUTPUT=direct.atr "$P/selfcount" 2 >/dev/null 2>&1
"$AT" info --json direct.atr >direct.json 2>/dev/null
check "direct use with LD_PRELOAD and ARENATRACE_OUTPUT" test "$(json direct.json 'j["complete"]')" = True

# --- C++ and other allocators ---
"$P/cxx" >cxx.plain
"$AT" record -o cxx.atr -- "$P/cxx" >cxx.out 2>/dev/null
check "C++: same output under the tracer" cmp -s cxx.plain cxx.out
"$CHECK" cxx.atr >cxx.check
"$AT" info --json cxx.atr >cxx.json
mallocs=$(json cxx.json 'j["calls"]["malloc"]')
frees=$(json cxx.json 'j["calls"]["free"]')
# 5,000 map nodes, 5,000 long strings and 1,000 arrays at least
check "C++ new/delete seen as malloc/free ($mallocs, $frees), the order consistent" \
	sh -c "grep -qx 'malloc_alloc_over_live 0' cxx.check && test $mallocs -gt 11000 && test $frees -gt 11000"
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -f "$JE" ]; then
	LD_PRELOAD=$JE "$AT" record -o je.atr -- "$P/threads" 5000 >je.out 2>/dev/null
	check "a preloaded jemalloc stays the allocator (its maps are in the process)" \
		sh -c "LD_PRELOAD=$JE '$AT' record -o je2.atr -- cat /proc/self/maps 2>/dev/null | grep -q libjemalloc"
	"$CHECK" --after-mark go je.atr >je.check
	check "under jemalloc: threads traced, no allocation over a live address" \
		sh -c "grep -qx done je.out && grep -qx 'malloc_alloc_over_live 0' je.check && grep -qx 'malloc_free_unknown 0' je.check"
else
	skip "a preloaded jemalloc stays the allocator" "libjemalloc2 not installed"
	skip "under jemalloc: threads traced" "libjemalloc2 not installed"
fi

# --- an object loaded and unloaded faster than the module map is polled ---
"$AT" record -o dl.atr -- "$P/dlprog" "$P/libplugin.so" >dl.out 2>/dev/null
check "dlopen, allocate, dlclose: the program runs unchanged" \
	sh -c "test \$? -eq 0 && grep -q 'dlprog ok' dl.out"
"$AT" dump dl.atr >dl.dump
plug_id=$(sed -n 's/.* module id=\([0-9]*\) .*libplugin\.so".*/\1/p' dl.dump)
check "the object dlclose unloads is in the module map" test -n "$plug_id"
check "and its unload follows it" grep -q " module_unload id=$plug_id\$" dl.dump
"$AT" replay --layer malloc dl.atr >dl.replay 2>/dev/null
check "the blocks it allocated name its function" grep -q 'plugin_fill at plugin\.c:' dl.replay
# 300 times while four threads allocate: dlclose's polls race their recording
"$AT" record -o dl300.atr -- "$P/dlprog" "$P/libplugin.so" 300 >dl300.out 2>/dev/null
check "300 dlopen/dlclose beside 4 allocating threads: the program runs unchanged" \
	sh -c "test \$? -eq 0 && grep -q 'dlprog ok' dl300.out"
"$CHECK" dl300.atr >dl300.check
check "and its trace is complete and consistent" \
	sh -c "grep -qx 'complete 1' dl300.check && grep -qx 'malloc_free_unknown 0' dl300.check &&
		grep -qx 'malloc_alloc_over_live 0' dl300.check"
"$AT" dump dl300.atr >dl300.dump
check "with every load and unload of the object" \
	sh -c "test \$(grep -c ' module id=[0-9]* .*libplugin\\.so\"' dl300.dump) -eq 300 &&
		test \$(grep -c ' module_unload id=' dl300.dump) -eq 300"

# the module map is also looked at while the program runs: an object that is
# loaded and never unloaded by a program that is then killed is in its trace
"$AT" record -o dlk.atr -- "$P/dlprog" "$P/libplugin.so" kill >dlk.out 2>/dev/null
check "a killed program's trace holds the object it loaded 300 ms before" \
	sh -c "grep -q 'dlprog ok' dlk.out && \"$AT\" dump dlk.atr | grep -q ' module .*libplugin.so'"

# --- failures never break the program ---
"$P/selfcount" 20 >plain.out
ARENATRACE_OUTPUT=/nonexistent/dir/x.atr LD_PRELOAD="$LIB" \
	"$P/selfcount" 20 >nodir.out 2>nodir.err
check "unwritable trace path: the program runs unchanged" sh -c "test \$? -eq 0 && cmp -s plain.out nodir.out"
check "unwritable trace path: one line on stderr" \
	sh -c "test \$(wc -l <nodir.err) -eq 1 && grep -q '^arenatrace: cannot create trace' nodir.err"
if mkdir full && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
	"$P/threads" 20000 >plain.out
	ARENATRACE_OUTPUT=full/x.atr LD_PRELOAD="$LIB" \
		"$P/threads" 20000 >full.out 2>full.err
	rc=$?
	umount full
	check "disk full: the program runs unchanged" sh -c "test $rc -eq 0 && cmp -s plain.out full.out"
	check "disk full: one line on stderr, tracing stopped" \
		sh -c "test \$(wc -l <full.err) -eq 1 && grep -q 'No space left on device; tracing stopped' full.err"
else
	skip "disk full: the program runs unchanged" "cannot mount a small tmpfs here"
	skip "disk full: one line on stderr" "cannot mount a small tmpfs here"
fi

# --- time: bursts of requests 100 ms apart show 100 ms apart (the coarse
# clock's tick and the writer's 1 ms quantum allowed for), and time never
# goes back ---
"$AT" record -o ticks.atr -- "$P/ticks" >/dev/null 2>&1
"$AT" dump ticks.atr >ticks.txt
check "a burst after a 100 ms sleep shows at least 75 ms after the last one, and time never goes back" python3 -c '
import re, sys
first, last, prev = {}, {}, 0.0
for line in open("ticks.txt"):
    m = re.match(r"\d+ (\d+\.\d+) t\d+ (\S+)(?: size=(\d+))?", line)
    if not m:
        continue
    t = float(m.group(1))
    assert t >= prev, line
    prev = t
    if m.group(2) == "malloc" and m.group(3) and 1000 <= int(m.group(3)) < 2000:
        first.setdefault((int(m.group(3)) - 1000) // 125, t)
        last[(int(m.group(3)) - 1000) // 125] = t
assert sorted(first) == list(range(8)), first
gaps = [first[r + 1] - last[r] for r in range(7)]
assert min(gaps) >= 0.075, gaps
'

done_testing
