#!/bin/sh
# End-to-end: CPython recording, for every CPython 3.8+ on this machine
# (pyenv's interpreters and the system python3): domain events, arena
# events, GC passes after gc.collect(), and snapshots whose arena counts
# agree with the arena records; every domain request seen from interpreter
# start (no free of an unknown block).  arenatrace_snapshot and _mark
# called through ctypes.CDLL, which releases the GIL, from the main thread,
# from four threads at once and from a thread Python did not start: the
# program runs to its end and the replay finds every snapshot and address
# as the interpreter's.  Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "CPython under the tracer"
AT=$(realpath "$AT")
CHECK=$(realpath "$B/atr-check")
cd "$TMP" || exit 1

cat >work.py <<'PY'
import ctypes, gc, sys
try:
    snapshot = ctypes.PyDLL(None).arenatrace_snapshot
except AttributeError:  # not traced
    snapshot = lambda label: None
snapshot(b"start")
data = [{"k%d" % i: [i] * 5} for i in range(30000)]
s = "".join(str(i) for i in range(20000))
snapshot(b"built")
del data
class Node:
    pass
for i in range(2000):
    a, b = Node(), Node()
    a.other, b.other = b, a
found = gc.collect()
snapshot(b"collected")
print(sys.version_info[:2], found >= 4000)
PY

# the tracer's functions through ctypes.CDLL: called without the GIL
cat >cdll.py <<'PY'
import ctypes, threading
lib = ctypes.CDLL(None)
snap, mark = lib.arenatrace_snapshot, lib.arenatrace_mark
snap(b"main")
mark(b"main")
def work(k):
    keep = []
    for i in range(30):
        keep.append([{"a": j, "b": str(j) * (j % 7)} for j in range(300)])
        snap(b"thread %d round %d" % (k, i))
        mark(b"thread %d" % k)
        if i % 3 == 2:
            del keep[:]
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
# a thread that is not Python's: each function as the start routine of a
# pthread (the join releases the GIL, which the snapshot takes)
for fn, label in ((snap, b"native thread"), (mark, b"native mark")):
    tid = ctypes.c_ulong()
    start = ctypes.cast(fn, ctypes.c_void_p)
    assert lib.pthread_create(ctypes.byref(tid), None, start, ctypes.c_char_p(label)) == 0
    lib.pthread_join(tid, None)
snap(b"end")
print("done")
PY

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	tag="python $v ($py)"
	"$py" work.py >plain.out 2>&1
	rm -f py.atr
	"$AT" record -o py.atr -- "$py" work.py >traced.out 2>/dev/null
	if ! cmp -s plain.out traced.out; then
		not_ok "$tag: output differs under the tracer"
		continue
	fi
	"$AT" info --json py.atr >py.json
	python3 - py.json "$v" >py.out 2>&1 <<'PYCHECK'
import json, sys
j, v = json.load(open(sys.argv[1])), sys.argv[2]
p = j["python"]
assert j["complete"], "incomplete"
assert p["version"] and p["version"].startswith(v + "."), p["version"]
assert p["obj"]["malloc"] > 30000 and p["obj"]["free"] > 30000, p["obj"]
assert p["mem"]["malloc"] > 0, p["mem"]
assert p["arena_alloc"] >= 2, p
assert p["gc_passes"] >= 1 and p["gc_by_generation"][2] >= 1, p
assert j["snapshots"] == 3
print("ok %d obj, %d mem calls, %d arenas, %d GC passes" % (
    sum(p["obj"].values()), sum(p["mem"].values()), p["arena_alloc"], p["gc_passes"]))
PYCHECK
	if grep -q '^ok' py.out; then ok "$tag: $(sed 's/^ok //' py.out)"
	else not_ok "$tag: domain, arena, GC or snapshot records"; sed 's/^/# /' py.out; fi
	"$CHECK" py.atr >check.out
	if grep -qx 'snapshots_mismatched 0' check.out && grep -qx 'snapshots 3' check.out; then
		ok "$tag: arenas at each snapshot agree with its statistics text"
	else
		not_ok "$tag: snapshots disagree with the arena records"
		sed 's/^/# /' check.out
	fi
	check "$tag: every domain request seen from the start (no unknown free)" \
		sh -c 'grep -qx "python_free_unknown 0" check.out && grep -qx "python_alloc_over_live 0" check.out'
	rm -f cdll.atr
	"$AT" record -o cdll.atr -- "$py" cdll.py >cdll.out 2>cdll.err
	rc=$?
	"$AT" replay --check-snapshots cdll.atr >rep.out 2>rep.err
	rrc=$?
	marks=$("$AT" info --json cdll.atr 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["marks"])' 2>/dev/null)
	if [ $rc -eq 0 ] && grep -qx done cdll.out && [ $rrc -eq 0 ] &&
		grep -qx 'snapshots: 123 checked, 0 mismatched' rep.out && [ "$marks" = 122 ] &&
		grep -q ' 0 addresses unlike the interpreter.s, 0 arena mismatches, 0 anomalies' rep.err; then
		ok "$tag: ctypes.CDLL snapshots and marks, main thread, 4 threads, a native thread: every snapshot and address as the interpreter's"
	else
		not_ok "$tag: ctypes.CDLL snapshots and marks: status $rc, replay $rrc, $marks marks"
		tail -n 3 cdll.err rep.out rep.err | sed 's/^/# /'
	fi
	ran="$ran $v"
done
echo "# CPython versions that ran:${ran:- none}"
if [ -n "$ran" ]; then
	"$AT" record --python off -o off.atr -- "$py" work.py >off.out 2>/dev/null
	"$AT" info --json off.atr >off.json
	check "--python off: no Python-layer records, the program runs unchanged" \
		python3 -c 'import json, sys; j = json.load(open("off.json")); p = j["python"]
sys.exit(not (p["version"] is None and p["arena_alloc"] == 0 and sum(p["obj"].values()) == 0
              and j["calls"]["malloc"] > 0 and j["complete"]))'
	check "--python off: same output" cmp -s off.out plain.out
fi
check "at least one CPython 3.8+ ran" test -n "$ran"
done_testing
