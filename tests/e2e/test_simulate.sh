#!/bin/sh
# End-to-end: `arenatrace simulate` on object-graph workloads
# (traces/workloads/README.md): bad files give FILE:LINE and exit 2, the
# examples run with the numbers their comments promise, a trace written
# with -o replays with every address and arena count as the simulation's,
# and --threshold and --gc off change what they should.
. "$(dirname "$0")/lib.sh"
AT=$(realpath "$AT")
WL=$(realpath "$(dirname "$0")/../../traces/workloads")
cd "$TMP" || exit 1

# jq-like field reader: json FILE EXPR (a Python expression over d)
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
# jtrue FILE EXPR: passes when EXPR over d is true
jtrue() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }

# ---- bad workloads: one line "arenatrace: FILE:LINE: message", status 2
bad() {
	printf '%b' "$2" >bad.wl
	expect_error "bad workload: $1" "bad.wl:$3: .*$4" "$AT" simulate bad.wl
}
bad "unknown statement" 'new a 56 container\nfrob a\n' 2 "unknown statement 'frob'"
bad "missing argument" '\n# comment\nref a\n' 3 "ref takes 2 arguments"
bad "bad kind" 'new a 56 list\n' 1 "'container' or 'plain'"
bad "size 0" 'new a 0 plain\n' 1 "size must be a number"
bad "generation 3" 'collect 3\n' 1 "generation must be a number from 0 to 2"
bad "end without repeat" 'end\n' 1 "end without repeat"
bad "repeat without end" 'new a 1 plain\nrepeat 3\nnew b 1 plain\n' 2 "repeat without end"
bad "% outside repeat" 'new a% 1 plain\n' 1 "outside a repeat"
bad "too deep" 'repeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\nrepeat 2\n' 9 "nest at most 8"
bad "too many statements" 'repeat 100000\nrepeat 1000\nnew a 1 plain\nend\nend\n' 3 "more than 50000000 statements"
bad "empty loops count too" 'repeat 1000000000\nrepeat 1000000000\nend\nend\n' 2 "more than 50000000"
bad "unbound name (at run time)" 'new a 56 container\nref a b\n' 2 "name 'b' is not bound"
bad "ref from a plain object" 'new a 8 plain\nref a a\n' 2 "not a container"
bad "unref of a missing reference" 'new a 56 container\nnew b 8 plain\nunref a b\n' 3 "no reference"
bad "drop twice" 'repeat 2\nnew x% 8 plain\nend\ndrop x1\ndrop x1\n' 5 "'x1' is not bound"
bad "binary" 'new a\001 8 plain\n' 1 "printable ASCII"
expect_error "a missing workload file" "nope.wl" "$AT" simulate nope.wl
expect_error "an unknown profile" "unknown profile" "$AT" simulate --profile cpython-2.7 "$WL/ring.wl"
expect_error "a bad --threshold" "threshold" "$AT" simulate --threshold 700,10 "$WL/ring.wl"
expect_error "a bad --gc" "--gc takes on or off" "$AT" simulate --gc maybe "$WL/ring.wl"

# ---- the examples, with what their comments say
for p in cpython-3.8 cpython-3.11 cpython-3.12 cpython-3.13; do
	"$AT" simulate --json --check --profile $p "$WL/ten-lists.wl" >ten.json
	check "$p ten-lists: collect() returns 10, all freed by the collector" \
		test "$(json ten.json 'd["collect_returns"], d["freed_by_gc"]["objects"], d["objects"]["live_end"]')" = "[10] 10 0"
	"$AT" simulate --json --check --profile $p "$WL/ring.wl" >ring.json
	check "$p ring: 0 while named, 0 from gen 0 once in gen 1, then 500" \
		test "$(json ring.json 'd["collect_returns"], d["collections"]')" = "[0, 0, 500] [2, 1, 0]"
	"$AT" simulate --json --check --profile $p "$WL/survivor.wl" >surv.json
	check "$p survivor: held cycles survive, 40 freed by the full collection" \
		test "$(json surv.json 'd["collect_returns"], d["freed_by_refcount"]["objects"]')" = "[0, 0, 0, 40] 1"
done
"$AT" simulate "$WL/churn.wl" --profile cpython-3.12 >churn.txt
check "summary: collections per generation, frees by mechanism, arenas, peak" \
	sh -c 'grep -q "^collections  gen0 130, gen1 11, gen2 2;" churn.txt &&
		grep -q "^freed        by refcount 80000 objects (16000000 bytes), by the collector 80000 objects" churn.txt &&
		grep -q "^arenas       4 allocated, 0 released" churn.txt && grep -q "^peak held    " churn.txt'
"$AT" simulate --json --profile cpython-3.13 "$WL/churn.wl" >c13.json
"$AT" simulate --json --profile cpython-3.12 "$WL/churn.wl" >c12.json
check "3.13's threshold 2000 collects less often than 3.12's 700" \
	jtrue c13.json "d['collections'][0] < $(json c12.json 'd["collections"][0]') // 2"
check "the 3.13 default thresholds are 2000,10,10" test "$(json c13.json 'd["thresholds"]')" = "[2000, 10, 10]"
"$AT" simulate --json --check --profile cpython-3.10 "$WL/wave.wl" >wave.json
check "wave: a cascade frees everything by refcount and releases all arenas but one" \
	test "$(json wave.json 'd["freed_by_gc"]["objects"], d["objects"]["live_end"], d["arenas"]["current"], d["arenas"]["released"] > 0')" = "0 0 1 True"

# ---- --threshold and --gc off
"$AT" simulate --json --profile cpython-3.12 --threshold 100,10,10 "$WL/churn.wl" >t100.json
check "--threshold 100,10,10: more collections than 700,10,10" \
	jtrue t100.json "d['thresholds'] == [100, 10, 10] and d['collections'][0] > 5 * $(json c12.json 'd["collections"][0]')"
"$AT" simulate --json --profile cpython-3.12 --threshold 0,10,10 "$WL/churn.wl" >t0.json
check "--threshold 0,10,10: only the explicit collection" test "$(json t0.json 'd["collections"]')" = "[0, 0, 1]"
"$AT" simulate --json --profile cpython-3.12 --gc off "$WL/churn.wl" >off.json
check "--gc off: no collection, nothing freed by the collector, explicit collect returns 0" \
	test "$(json off.json 'd["collections"], d["freed_by_gc"]["objects"], d["collect_returns"]')" = "[0, 0, 0] 0 [0]"
check "--gc off: cyclic garbage raises the peak and the arenas" \
	jtrue off.json "d['peak_held_bytes'] > $(json c12.json 'd["peak_held_bytes"]') and d['arenas']['highwater'] > $(json c12.json 'd["arenas"]["highwater"]')"
"$AT" simulate --json --gc off "$WL/pin.wl" >pinoff.json
"$AT" simulate --json "$WL/pin.wl" >pinon.json
check "pin: the collector frees 99% of the bytes but no arena" \
	jtrue pinon.json "d['freed_by_gc']['objects'] == 200000 and d['arenas']['released'] == 0 and d['arenas']['current'] == $(json pinoff.json 'd["arenas"]["current"]')"

# ---- -o: the trace replays like any other
for p in cpython-3.8 cpython-3.9 cpython-3.13; do
	for w in churn pin wave; do
		"$AT" simulate --json --profile $p -o $w.atr "$WL/$w.wl" >sim.json
		"$AT" replay --json $w.atr >rep.json 2>rep.err
		rc=$?
		if [ $rc -eq 0 ] && grep -q ", 0 addresses unlike the interpreter's, 0 arena mismatches, 0 anomalies" rep.err &&
			python3 -c '
import json, sys
s = json.load(open("sim.json")); r = json.load(open("rep.json"))
m = r["models"][0]; a = m["arenas"]
assert m["profile"] == s["profile"], (m["profile"], s["profile"])
assert (a["allocated_total"], a["released"], a["highwater"], a["current"]) == (
    s["arenas"]["allocated_total"], s["arenas"]["released"], s["arenas"]["highwater"],
    s["arenas"]["current"]), (a, s["arenas"])
assert r["requests"] == s["requests"] and m["peak"]["held_bytes"] == s["peak_held_bytes"]
'; then
			ok "$p $w: the -o trace replays with every address and arena count as simulated"
		else
			not_ok "$p $w: replay status $rc: $(cat rep.err)"
		fi
	done
done
"$AT" simulate --json --profile cpython-3.11 -o churn.atr "$WL/churn.wl" >sim.json
check "the -o trace starts at the time it was simulated, not in 1970" \
	sh -c "\"$AT\" info churn.atr | grep -q '^started *$(date -u +%Y)-'"
"$AT" info --json churn.atr >info.json
check "the trace's gc records are the simulation's collections" \
	jtrue info.json "d['python']['gc_by_generation'] == $(json sim.json 'd["collections"]')"
"$AT" simulate --emit-python "$WL/ring.wl" >ring.py
check "--emit-python writes a Python program" sh -c 'head -n 1 ring.py | grep -q "^# generated by arenatrace simulate" && python3 -c "import ast, sys; ast.parse(open(\"ring.py\").read())"'
done_testing
