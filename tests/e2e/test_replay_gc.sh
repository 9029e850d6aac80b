#!/bin/sh
# End-to-end: GC attribution in real CPython traces.  tests/python/gcfree.py
# makes N self-cycles with automatic collection off, frees them with one
# gc.collect(), then makes and drops N floats (reference counting).  Under
# every CPython 3.8+ here: the replay gives the collector the cycles' blocks
# and the arenas they emptied, and `--gc off` keeps them live to the end.
# Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "GC attribution in real CPython traces"
AT=$(realpath "$AT")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1
N=100000

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	rm -f t.atr
	found=$("$AT" record -o t.atr -- "$py" "$PYDIR/gcfree.py" $N 2>/dev/null)
	"$AT" info --json t.atr >info.json 2>/dev/null
	"$AT" replay --gc off --json t.atr >gc.json 2>/dev/null
	if python3 - "$N" "$found" <<'PY'; then
import json, sys
n, found = int(sys.argv[1]), int(sys.argv[2])
d = json.load(open("gc.json"))
info = json.load(open("info.json"))
on, off = d["models"]
g, h = on["gc"], off["gc"]
checks = [
    ("gc.collect() found the cycles", found >= n),
    ("passes per generation as recorded", d["gc"]["passes"] == info["python"]["gc_by_generation"] == g["passes"]),
    ("an explicit full pass", g["passes"][2] >= 1),
    # each cycle is one block of at least 32 bytes (header, slot); the
    # passes before gc.disable() free a few more
    ("the collector freed the cycles", n <= g["freed_by_gc"]["objects"] <= n + n // 20),
    ("their bytes", g["freed_by_gc"]["bytes"] >= 32 * n),
    ("reference counting freed the floats", g["freed_by_refcount"]["objects"] >= n),
    ("arenas released inside the pass", g["arenas_released_in_gc"] >= 1),
    ("gc off: the twin", on["collector"] == "on" and off["collector"] == "off" and on["profile"] == off["profile"]),
    ("gc off: nothing freed by the collector", h["freed_by_gc"]["objects"] == 0 and h["arenas_released_in_gc"] == 0),
    ("gc off: the collector's frees withheld", h["withheld"] == g["freed_by_gc"]),
    ("gc off: refcount frees unchanged", h["freed_by_refcount"] == g["freed_by_refcount"]),
    # the cycles stay while the floats live: peak live grows by at least the floats' share
    ("gc off: a higher peak", off["peak"]["live_bytes"] - on["peak"]["live_bytes"] >= g["freed_by_gc"]["bytes"] // 2),
    ("gc off: more arenas", off["arenas"]["highwater"] > on["arenas"]["highwater"]),
]
bad = [c for c, good in checks if not good]
if bad:
    print("# failed:", ", ".join(bad))
    print("# on:", json.dumps(g), on["peak"], on["arenas"])
    print("# off:", json.dumps(h), off["peak"], off["arenas"])
sys.exit(bool(bad))
PY
		ok "python $v: $N cycles freed inside the gc.collect() pass, floats by reference counting; --gc off keeps the cycles"
	else
		not_ok "python $v ($py): GC attribution"
	fi
	ran="$ran $v"
done
echo "# CPython versions that ran:${ran:- none}"
check "at least one CPython 3.8+ ran" test -n "$ran"

if [ -n "$ran" ]; then
	"$AT" replay --gc off t.atr >sum.txt 2>/dev/null
	check "the summary says what the collector freed and what its absence costs" \
		sh -c 'grep -q "^gc: [0-9]* passes: " sum.txt &&
			grep -q "^cpython-3\.[0-9]*: the collector freed [0-9]* blocks" sum.txt &&
			grep -q "^cpython-3\.[0-9]* gc-off: [0-9]* blocks .* stay live; peak held" sum.txt'
fi
expect_error "--gc takes on or off" "--gc takes on or off" "$AT" replay --gc maybe t.atr
expect_error "--gc off runs each model twice: at most 4" "at most 4 models" \
	"$AT" replay --gc off --model cpython-3.8,cpython-3.9,cpython-3.10,cpython-3.11,cpython-3.12 t.atr
done_testing
