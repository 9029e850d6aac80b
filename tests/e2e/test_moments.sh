#!/bin/sh
# End-to-end: replay --at, the moments analysed in full, on a real
# program (tests/progs/plateau.c): 200,000 blocks, of which 400
# survivors from keep_survivor() stay after the rest are freed, holding
# nearly empty arenas on a plateau between the marks "plateau" and
# "refill", before refill() fills them again.  The worst moment is on the
# plateau and names the survivors' function; the peak's pinning and waste
# split are of one request; the blocks never freed are the end's leaks,
# by stack; marks are moments by default and by label; bad --at values
# are one line and exit 2.  Then a Python program under every CPython
# 3.8+ here (tests/python/evict.py): a cache mostly evicted, 3,000
# survivors, a module-level list growing by a block per request, a normal
# exit.  The default moments are the interpreter's exit (recorded), not
# the end after its teardown; the survivors pin arenas after the eviction
# and at exit; the growing list is a leak with its size (by native stack,
# and as the row of its Python line).
. "$(dirname "$0")/lib.sh"
skip_under_asan "moments (the tracer in a plain program)"
AT=$(realpath "$AT")
PROG=$(realpath "$B/tests/progs/plateau")
EVICT=$(realpath "$(dirname "$0")/../python/evict.py")
cd "$TMP" || exit 1

"$AT" record -o plateau.atr -- "$PROG" >out.txt 2>err.txt
check "the program runs traced" grep -qx done out.txt
"$AT" replay --json --model cpython-3.13 plateau.atr >d.json 2>err.txt
check "replay --json with the default moments exits 0" test $? -eq 0

check "the default moments: peak, worst, the three marks, end" python3 - d.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
kinds = sorted((x["kind"], x["label"]) for x in m["moments"])
want = sorted([("peak", "peak"), ("worst", "worst"), ("end", "end"), ("mark", "filled"),
               ("mark", "plateau"), ("mark", "refill")])
sys.exit(0 if kinds == want else f"moments {kinds}")
PY

check "worst is on the plateau and its arenas are pinned by keep_survivor" python3 - d.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
at = {x["label"]: x for x in m["moments"]}
w, p, s = at["worst"], at["plateau"], at["refill"]
if not p["request"] <= w["request"] <= s["request"]:
    sys.exit(f"worst at {w['request']}, plateau {p['request']}..{s['request']}")
if w["request"] != m["worst"]["request"]:
    sys.exit("the worst moment is not at the worst request")
if w["held_bytes"] - w["live_bytes"] != m["worst"]["held_minus_live_bytes"]:
    sys.exit("held minus live differs from the worst figure")
pin = w["pinning"]
if pin["arenas_low"] < 5:
    sys.exit(f"only {pin['arenas_low']} little-used arenas on the plateau")
top = pin["stacks"][0]
if not any("keep_survivor" in s for s in top["symbols"]):
    sys.exit(f"top pinning stack: {top['symbols'][:3]}")
if top["blocks"] > 400 or top["blocks"] < 100:
    sys.exit(f"the survivors are 400 blocks, the stack has {top['blocks']}")
if any(any("fill" == s.split()[0] for s in st["symbols"]) for st in pin["stacks"]):
    sys.exit("fill's blocks, all freed, pin arenas")
PY

check "the peak's pinning and waste split are of the peak's own request" python3 - d.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
pk = [x for x in m["moments"] if x["kind"] == "peak"][0]
if pk["request"] != m["peak_request"]:
    sys.exit(f"peak moment at {pk['request']}, peak at {m['peak_request']}")
if pk["waste"] != m["waste"]["at_peak"]:
    sys.exit(f"waste {pk['waste']} vs at_peak {m['waste']['at_peak']}")
if pk["held_bytes"] != m["peak"]["held_bytes"]:
    sys.exit("held at the peak moment is not the peak held")
if m["pinning"].get("at_peak") != pk["pinning"]:
    sys.exit("pinning.at_peak is not the peak moment's")
PY

check "the end's leaks: refill's and keep_survivor's blocks, by stack, with their sizes" python3 - d.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
e = [x for x in m["moments"] if x["kind"] == "end"][0]
def of(name):
    for st in e["leaks"]["stacks"]:
        if any(s.split(" ")[0] == name for s in st["symbols"]):
            return st
    sys.exit(f"no leak of {name}: {[st['symbols'][:1] for st in e['leaks']['stacks']]}")
r, k = of("refill"), of("keep_survivor")
if (r["blocks"], r["bytes"]) != (149700, 149700 * 64):
    sys.exit(f"refill: {r['blocks']} blocks, {r['bytes']} bytes")
if (k["blocks"], k["bytes"]) != (400, 400 * 64):
    sys.exit(f"keep_survivor: {k['blocks']} blocks, {k['bytes']} bytes")
if e["leaks"]["stacks"][0] != r:
    sys.exit("refill, the most bytes, is not first")
if k["arenas"] < 5:
    sys.exit(f"the survivors are in {k['arenas']} arenas")
PY

"$AT" replay --model cpython-3.13 --at plateau plateau.atr >one.txt 2>err.txt
check "--at LABEL: that moment only, in the summary, naming keep_survivor" sh -c '
	test "$(grep -c " at plateau (request " one.txt)" -eq 1 &&
	! grep -q " at peak (request " one.txt &&
	grep -A8 " at plateau (request " one.txt | grep -q keep_survivor'

"$AT" replay --json --model cpython-3.13 --at "refill#1" --at 0.000001s --at end \
	plateau.atr >two.json 2>err.txt
check "--at LABEL#N, a time and end" python3 - two.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
got = [(x["kind"], x["label"]) for x in m["moments"]]
want = [("time", "0.000001s"), ("mark", "refill#1"), ("end", "end")]
sys.exit(0 if got == want else f"moments {got}")
PY

"$AT" report -o rep --model cpython-3.13 plateau.atr >rep.txt 2>err.txt
check "report: moments.csv has every moment, the plateau's pinned by keep_survivor" python3 - rep <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/moments.csv", newline="")))
got = sorted(r["label"] for r in rows)
if got != sorted(["peak", "worst", "end", "filled", "plateau", "refill"]):
    sys.exit(f"moments.csv labels {got}")
w = [r for r in rows if r["kind"] == "worst"][0]
if "keep_survivor" not in w["top_pinning_frames"]:
    sys.exit(f"worst's top pinning stack: {w['top_pinning_frames'][:80]}")
e = [r for r in rows if r["kind"] == "end"][0]
if "refill" not in e["top_leak_frames"] or e["top_leak_blocks"] != "149700":
    sys.exit(f"end's top leak: {e['top_leak_blocks']} {e['top_leak_frames'][:80]}")
tl = list(csv.DictReader(open(sys.argv[1] + "/timeline.csv", newline="")))
marked = [r["moments"] for r in tl if r["moments"]]
if not any("plateau" in m for m in marked) or not any("refill" in m for m in marked):
    sys.exit(f"timeline.csv moments: {marked}")
PY
check "report.html: a section per moment, and the chart's markers link to them" python3 - rep/report.html <<'PY'
import re, sys
page = open(sys.argv[1]).read()
ids = re.findall(r'<div class="moment" id="(moment-\d+)"><h3>At ([^<(]*) \(request', page)
if sorted(l.strip() for _, l in ids) != sorted(["peak", "worst", "end", "filled", "plateau", "refill"]):
    sys.exit(f"sections {ids}")
chart = page[page.index('id="memory-chart"'):]
chart = chart[:chart.index("</svg>")]
links = re.findall(r'<a href="#(moment-\d+)">', chart)
if sorted(links) != sorted(i for i, _ in ids):
    sys.exit(f"chart links {links}")
sec = page[page.index('id="moment-'):]
if "keep_survivor" not in sec or "Live at the end" not in sec:
    sys.exit("the moments' stacks or the end's leaks are missing")
PY

expect_error "--at a label no mark has" "no mark of that label" \
	"$AT" replay --at "no such mark" plateau.atr
expect_error "--at a later occurrence than there is" "has 1 mark of that label" \
	"$AT" replay --at "plateau#2" plateau.atr
expect_error "--at a time past the end" "past the trace's end" \
	"$AT" replay --at 1000s plateau.atr
expect_error "--at exit in a trace of a C program" "did not record the interpreter's exit" \
	"$AT" replay --at exit plateau.atr
long=$(printf 'x%.0s' $(seq 1 80))
expect_error "--at a label too long" "1 to 63 bytes" "$AT" replay --at "$long" plateau.atr
expect_error "report --at a label no mark has" "no mark of that label" \
	"$AT" report -o rep --at nothing plateau.atr

# ---- Python: exit before the teardown, survivors, a leak ----
ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	ran="$ran $v"
	rm -f evict.atr
	"$AT" record -o evict.atr -- "$py" "$EVICT" >out.txt 2>err.txt
	"$AT" replay --json evict.atr >py.json 2>err.txt
	"$AT" replay --json --stacks native evict.atr >native.json 2>>err.txt
	"$AT" replay --json --at exit --at end evict.atr >ends.json 2>>err.txt
	check "python $v: info says the interpreter's exit was recorded" sh -c \
		"\"$AT\" info evict.atr | grep -q '^exit .*py_finalize recorded'"
	check "python $v: exit recorded; the default moments lead with the program's own state" \
		python3 - py.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if "exit" not in d:
    sys.exit("no exit recorded")
m = d["models"][0]
kinds = [x["kind"] for x in m["moments"]]
if "end" in kinds or "exit" not in kinds or kinds.count("mark") != 1:
    sys.exit(f"moments {kinds}")
ex = [x for x in m["moments"] if x["kind"] == "exit"][0]
if ex["request"] != d["exit"]["request"]:
    sys.exit("the exit moment is not at the recorded exit")
if m["worst"]["request"] > d["exit"]["request"]:
    sys.exit("worst is in the teardown")
PY
	check "python $v: the survivors pin arenas after the eviction and at exit" \
		python3 - py.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
at = {x["label"]: x for x in m["moments"]}
for name in ("after evict", "exit"):
    x = at[name]
    pin = x["pinning"]
    blocks = sum(s["blocks"] for s in pin["stacks"])
    if pin["arenas_low"] < 5 or blocks < 3000:
        sys.exit(f"{name}: {pin['arenas_low']} little-used arenas, {blocks} pinning blocks")
    if x["live_bytes"] * 2 > x["held_bytes"]:
        sys.exit(f"{name}: live {x['live_bytes']} of held {x['held_bytes']}")
PY
	# by native stack, the bytes objects' own; by Python line (the default),
	# with the list's array that the same line grows
	check "python $v: the growing list is a leak at exit, with its blocks and bytes" \
		python3 - native.json py.json <<'PY'
import json, sys
want = sum(33 + 1000 + i % 7 for i in range(2000))  # PyBytesObject: 33 bytes and the data
m = json.load(open(sys.argv[1]))["models"][0]
ex = [x for x in m["moments"] if x["kind"] == "exit"][0]
got = [s for s in ex["leaks"]["stacks"] if s["blocks"] == 2000 and s["bytes"] == want]
if not got:
    sys.exit(f"no stack of 2000 blocks, {want} bytes: "
             f"{[(s['blocks'], s['bytes']) for s in ex['leaks']['stacks']]}")
m = json.load(open(sys.argv[2]))["models"][0]
ex = [x for x in m["moments"] if x["kind"] == "exit"][0]
rows = [s for s in ex["leaks"]["stacks"]
        if s["python"] and s["python"][0]["function"] == "handle_request"]
if not rows or rows[0]["blocks"] < 2000 or rows[0]["bytes"] < want:
    sys.exit(f"no row of handle_request's line with 2000 blocks, {want} bytes: "
             f"{[(s['blocks'], s['bytes'], s['python'][:1]) for s in ex['leaks']['stacks']]}")
PY
	check "python $v: the teardown freed what exit shows live" python3 - ends.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
at = {x["kind"]: x for x in m["moments"]}
ex, end = at["exit"], at["end"]
if not end["leaks"]["blocks"] * 2 < ex["leaks"]["blocks"]:
    sys.exit(f"exit {ex['leaks']['blocks']} blocks live, end {end['leaks']['blocks']}")
PY
done
# ---- more than 20 marks: the default keeps the 20 with the most waste ----
PY1=$(cpython_interpreters | head -n 1)
cat >marks.py <<'PYEOF'
import ctypes
mark = ctypes.PyDLL(None).arenatrace_mark
keep = [bytes(200) for _ in range(60000)]
for i in range(30):
    # scattered frees: live falls, held mostly stays; now and then a refill
    if i % 7 == 6:
        keep.extend(bytes(200) for _ in range(8000))
    else:
        del keep[i % 5::9]
    mark(b"m%d" % i)
PYEOF
"$AT" record -o marks.atr -- "$PY1" marks.py >/dev/null 2>&1
"$AT" replay --json marks.atr >dflt.json 2>err.txt
all_at=""
for i in $(seq 0 29); do all_at="$all_at --at m$i"; done
# shellcheck disable=SC2086
"$AT" replay --json $all_at marks.atr >all.json 2>>err.txt
check "30 marks: the default moments are the 20 where held minus live is largest" \
	python3 - dflt.json all.json <<'PY'
import json, sys
d, a = (json.load(open(f))["models"][0] for f in sys.argv[1:3])
if json.load(open(sys.argv[1]))["marks"] != 30:
    sys.exit("the trace should have 30 marks")
chosen = sorted(x["label"] for x in d["moments"] if x["kind"] == "mark")
waste = {x["label"]: x["held_bytes"] - x["live_bytes"] for x in a["moments"]}
if len(waste) != 30:
    sys.exit(f"{len(waste)} marks analysed with --at")
top = sorted(sorted(waste, key=lambda k: (-waste[k], int(k[1:])))[:20])
if chosen != top:
    sys.exit(f"default {chosen}, want {top}")
PY

echo "# CPython versions that ran:$ran"
[ -n "$ran" ] || not_ok "no CPython 3.8+ to run"
done_testing
