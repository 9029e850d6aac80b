#!/bin/sh
# End-to-end: CPython recording, for every CPython 3.8+ on this machine
# (pyenv's interpreters and the system python3): domain events, arena
# events, GC passes after gc.collect(), and snapshots whose arena counts
# agree with the arena records; every domain request seen from interpreter
# start (no free of an unknown block).  Says which versions ran.
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
