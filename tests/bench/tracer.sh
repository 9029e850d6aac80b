#!/bin/bash
# tests/bench/tracer.sh BUILD_DIR - the tracer's speed and size, as ratios
# against anchors measured in the same run: the untraced program, and
# heaptrack (Debian's package) when installed.  CPU time is user + system
# of the whole process tree (the program, heaptrack's interpreter) plus,
# for arenatrace, its drain processes (detached, so `time` does not see
# them: the launcher's table says what they used), the median of RUNS runs,
# a command and its anchors run in turns (interleaved).
set -u
B=$(realpath "$1")
R=$(cd "$(dirname "$0")/../.." && pwd) # the repository: its sources and workloads
RUNS=${RUNS:-5}
AT="$B/arenatrace"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1

# cpu CMD...: prints the CPU seconds of CMD and its children, and of the
# drain processes of an `arenatrace record`
cpu() {
	local TIMEFORMAT='%U %S' t d
	t=$( { time "$@" >/dev/null 2>"$TMP/cpu.err"; } 2>&1 | tail -n 1)
	d=$(sed -n 's/.*drain processes used \([0-9.]*\) s of CPU.*/\1/p' "$TMP/cpu.err" | tail -n 1)
	echo "$t ${d:-0}" | awk '{printf "%.3f\n", $1 + $2 + $3}'
}
# mid: the median of the numbers on stdin, one a line
mid() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# wall CMD...: prints the wall seconds of CMD
wall() {
	local TIMEFORMAT='%R'
	{ time "$@" >/dev/null 2>&1; } 2>&1 | tail -n 1
}
# q ARG...: the words quoted for eval
q() { printf '%q ' "$@"; }
# interleaved KIND CMD...: each CMD (words for eval: q) run RUNS times in
# turns, one run of each a round, so that the machine's drift over the
# run (these VMs are noisy) falls on a command and its anchor alike; the
# medians, in CMD order, into the array MED.  KIND cpu: CPU seconds
# (cpu), traces removed before each run; wall: wall seconds, the traces
# kept (a report writes into a fresh directory wr).
interleaved() {
	local kind=$1 i j c
	shift
	for ((i = 0; i < RUNS; i++)); do
		j=0
		for c in "$@"; do
			if [ "$kind" = cpu ]; then
				rm -f ./*.atr ./*.zst
			fi
			rm -rf wr
			eval "$kind $c" >>"$TMP/med.$j"
			j=$((j + 1))
		done
	done
	MED=()
	for ((j = 0; j < $#; j++)); do
		MED+=("$(mid <"$TMP/med.$j")")
		rm -f "$TMP/med.$j"
	done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
have_heaptrack=0
command -v heaptrack >/dev/null 2>&1 && have_heaptrack=1

CHURN="$B/tests/bench/churn"
echo "== tracer: churn (4 M events: 64 K live slots, 95% of sizes 1-512 B, 5% up to 64 KiB, two call sites)"
FWD="$B/tests/bench/libforward.so"
cmds=("$(q "$CHURN")" "$(q "$AT" record -o c.atr -- "$CHURN")"
	"$(q "$AT" record --no-stacks -o c.atr -- "$CHURN")")
[ -f "$FWD" ] && cmds+=("$(q env LD_PRELOAD="$FWD" "$CHURN")"
	"$(q env FORWARD_STORE=1 LD_PRELOAD="$FWD" "$CHURN")")
[ $have_heaptrack = 1 ] && cmds+=("$(q heaptrack -o ht "$CHURN")" "$(q heaptrack --raw -o htr "$CHURN")")
interleaved cpu "${cmds[@]}"
base=${MED[0]} ours=${MED[1]} nost=${MED[2]}
k=3
if [ -f "$FWD" ]; then
	fwd=${MED[3]} fst=${MED[4]}
	k=5
fi
[ $have_heaptrack = 1 ] && ht=${MED[$k]} htr=${MED[$((k + 1))]}
echo "  CPU s: untraced $base, arenatrace $ours, arenatrace --no-stacks $nost (median of $RUNS)"
echo "  --no-stacks / untraced:           $(ratio "$nost" "$base")   (target <= 1.5)"
# the floor under any LD_PRELOAD recorder: forwarding alone, and
# forwarding plus a clock read and a 24-byte store per call (tests/bench/forward.c)
if [ -f "$FWD" ]; then
	echo "  CPU s: interposed and forwarded $fwd, + clock and a 24-byte store per call $fst"
	echo "  floor: forwarding / untraced      $(ratio "$fwd" "$base"), + clock and store / untraced $(ratio "$fst" "$base")"
fi
echo "  with stacks / untraced:           $(ratio "$ours" "$base")"
rm -f ./*.atr
"$AT" record -o c.atr -- "$CHURN" >/dev/null 2>&1
"$AT" record --no-stacks -o cn.atr -- "$CHURN" >/dev/null 2>&1
events=$("$AT" info --json c.atr | sed -n 's/.*"events": \([0-9]*\),.*/\1/p')
csize=$(size c.atr)
echo "  trace: $csize bytes with stacks, $(size cn.atr) without; $(ratio "$csize" "$events") bytes/event"
if [ $have_heaptrack = 1 ]; then
	heaptrack -o ht "$CHURN" >/dev/null 2>&1
	heaptrack --raw -o htr "$CHURN" >/dev/null 2>&1
	echo "  CPU s: heaptrack $ht, heaptrack --raw $htr"
	echo "  with stacks / heaptrack:          $(ratio "$ours" "$ht")   (target <= 0.35)"
	echo "  with stacks / heaptrack --raw:    $(ratio "$ours" "$htr")"
	echo "  size / heaptrack .raw.zst:        $(ratio "$csize" "$(size htr.raw.zst)")   (target <= 0.8; $(size htr.raw.zst) bytes)"
	echo "  size / heaptrack .zst:            $(ratio "$csize" "$(size ht.zst)")   (heaptrack's final file drops addresses; $(size ht.zst) bytes)"
else
	echo "  heaptrack not installed: no heaptrack ratios (apt-get install heaptrack)"
fi

echo "== tracer: 8 threads freeing each other's blocks (xthreads: 1.6 M allocations, 3.2 M events, no lock)"
XT="$B/tests/bench/xthreads"
cmds=("$(q "$XT")" "$(q "$AT" record -o x.atr -- "$XT")" "$(q "$AT" record --no-stacks -o x.atr -- "$XT")")
[ $have_heaptrack = 1 ] && cmds+=("$(q heaptrack -o xht "$XT")")
interleaved cpu "${cmds[@]}"
xbase=${MED[0]} xours=${MED[1]} xnost=${MED[2]} xht=${MED[3]:-}
echo "  CPU s: untraced $xbase, arenatrace $xours, arenatrace --no-stacks $xnost (median of $RUNS)"
echo "  --no-stacks / untraced:           $(ratio "$xnost" "$xbase")   (target <= 2.0)"
if [ $have_heaptrack = 1 ]; then
	echo "  CPU s: heaptrack $xht"
	echo "  with stacks / heaptrack:          $(ratio "$xours" "$xht")   (target <= 0.35)"
fi
# the order across threads must stay exact: a free recorded after the
# allocation that reuses its address shows as an allocation over a live block
rm -f ./*.atr
"$AT" record -o x.atr -- "$XT" >/dev/null 2>&1
"$AT" replay --layer malloc --json x.atr >x.json 2>/dev/null
echo "  order across threads: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(r["anomalies"].values()))' x.json 2>/dev/null || echo '?') anomalies (must be 0)"

echo "== replay: the churn trace through the pymalloc model (malloc layer)"
rm -f ./*.atr
"$AT" record -o rc.atr -- "$CHURN" >/dev/null 2>&1
# what the user waits for: wall time (replay may use both cores)
have_hp=0
if [ $have_heaptrack = 1 ] && command -v heaptrack_print >/dev/null 2>&1; then
	heaptrack -o ht2 "$CHURN" >/dev/null 2>&1
	have_hp=1
fi
cmds=("$(q "$AT" replay --layer malloc --model cpython-3.12 rc.atr)"
	"$(q "$AT" replay --layer malloc --model cpython-3.12,cpython-3.8 rc.atr)")
[ $have_hp = 1 ] && cmds+=("$(q heaptrack_print ht2.zst)")
interleaved wall "${cmds[@]}"
r1=${MED[0]} r2=${MED[1]} hp=${MED[2]:-}
ev=$("$AT" info --json rc.atr | sed -n 's/.*"events": \([0-9]*\),.*/\1/p')
echo "  wall s: one model $r1, two models $r2 ($(awk -v e="$ev" -v t="$r1" 'BEGIN {printf "%.1f", e / t / 1e6}') M events/s)"
echo "  second model adds / one model:    $(awk -v a="$r2" -v b="$r1" 'BEGIN {printf "%.2f", (a - b) / b}')   (target <= 0.3)"
if [ $have_hp = 1 ]; then
	echo "  wall s: heaptrack_print on heaptrack's trace of the same program $hp"
	echo "  replay / heaptrack_print:         $(ratio "$r1" "$hp")   (target <= 0.5)"
fi
# decoding alone, one core: the reader over the same trace, and zstd's own speed
"$B/tests/bench_format" real-churn rc.atr | sed -n 's/^  \(decode+decompress\|zstd alone  *[0-9.]* M events\/s decompressing\)/  \1/p'

echo "== tracer: gcc compiling a file (its cc1 process, where the allocations are)"
src="$R/traces/tf_reader.c"
CC1=$(gcc -print-prog-name=cc1)
eval "set -- $(gcc -### -O2 -c -I"$(dirname "$src")" "$src" -o x.o 2>&1 | grep '/cc1 ' | sed 's/ -o [^ ]*$//')"
shift
rm -f ./*.atr
"$AT" record -o cc1.atr -- "$CC1" "$@" -o a.s >/dev/null 2>&1
events=$("$AT" info --json cc1.atr | sed -n 's/.*"events": \([0-9]*\),.*/\1/p')
echo "  trace: $(size cc1.atr) bytes, $events events, $(ratio "$(size cc1.atr)" "$events") bytes/event"
if [ $have_heaptrack = 1 ]; then
	heaptrack --raw -o cc1raw "$CC1" "$@" -o b.s >/dev/null 2>&1
	heaptrack_interpret=/usr/lib/heaptrack/libexec/heaptrack_interpret
	echo "  size / heaptrack .raw.zst:        $(ratio "$(size cc1.atr)" "$(size cc1raw.raw.zst)")   (target <= 0.8; $(size cc1raw.raw.zst) bytes)"
	if [ -x "$heaptrack_interpret" ]; then
		zstd -dc <cc1raw.raw.zst | "$heaptrack_interpret" 2>/dev/null | zstd -q -c >cc1.zst
		echo "  size / heaptrack .zst:            $(ratio "$(size cc1.atr)" "$(size cc1.zst)")"
	fi
fi

echo "== tracer: Python script building and dropping dicts, lists, strings"
PY=$(command -v python3)
PY=$("$PY" -c 'import sys; print(sys.executable)')
PW="$R/tests/bench/pywork.py"
cmds=("$(q "$PY" "$PW")" "$(q "$PY" -X tracemalloc=25 "$PW")" "$(q "$AT" record -o p.atr -- "$PY" "$PW")"
	"$(q "$AT" record --python-stacks off -o p.atr -- "$PY" "$PW")"
	"$(q "$AT" record --native-stacks off -o p.atr -- "$PY" "$PW")")
[ $have_heaptrack = 1 ] && cmds+=("$(q env PYTHONMALLOC=malloc heaptrack -o pyht "$PY" "$PW")")
interleaved cpu "${cmds[@]}"
pybase=${MED[0]} pytm=${MED[1]} pyours=${MED[2]} pynopy=${MED[3]} pyonly=${MED[4]} pyht=${MED[5]:-}
"$AT" record -o p.atr -- "$PY" "$PW" >/dev/null 2>&1
size_both=$(size p.atr)
"$AT" record --python-stacks off -o p.atr -- "$PY" "$PW" >/dev/null 2>&1
size_nopy=$(size p.atr)
echo "  CPU s: untraced $pybase, tracemalloc=25 $pytm; arenatrace (both layers): Python and native"
echo "         stacks $pyours, native stacks only $pynopy, Python stacks only $pyonly (median of $RUNS)"
echo "  arenatrace / untraced:            $(ratio "$pyours" "$pybase")"
echo "  Python+native stacks / tracemalloc: $(ratio "$pyours" "$pytm")   (target <= 0.5)"
echo "  Python stacks only / tracemalloc:   $(ratio "$pyonly" "$pytm")   (target <= 0.3)"
echo "  with Python stacks / without:       $(ratio "$pyours" "$pynopy")   (target <= 1.2)"
echo "  trace size with / without them:     $(ratio "$size_both" "$size_nopy")   (target <= 1.15; $size_both bytes)"
if [ $have_heaptrack = 1 ]; then
	echo "  CPU s: heaptrack with PYTHONMALLOC=malloc $pyht"
	echo "  arenatrace / heaptrack:           $(ratio "$pyours" "$pyht")   (target <= 1.0)"
fi

echo "== report: the bundled workload (traces/examples/workload.py), report against replay"
rm -f ./*.atr
(cd "$R/traces/examples" && "$AT" record -o "$TMP/w.atr" -- "$PY" workload.py) >/dev/null 2>&1
interleaved wall "$(q "$AT" replay w.atr)" "$(q "$AT" report -o wr w.atr)"
wrp=${MED[0]} wrr=${MED[1]}
"$AT" report -o wr w.atr >/dev/null 2>&1
echo "  wall s: replay $wrp, report $wrr (median of $RUNS)"
echo "  report / replay:                  $(ratio "$wrr" "$wrp")   (target <= 1.5)"
echo "  call sites: callsites.csv $(size wr/callsites.csv) bytes, stacks.csv $(size wr/stacks.csv) bytes ($(grep -c '' wr/callsites.csv) and $(grep -c '' wr/stacks.csv) lines)"

echo "== report: a 20 M-event Python trace with millions of stacks (tests/bench/pyast.py), report against replay"
rm -f ./*.atr
"$AT" record -o a.atr -- "$PY" "$R/tests/bench/pyast.py" >/dev/null 2>&1
aev=$("$AT" info --json a.atr | sed -n 's/.*"events": \([0-9]*\),.*/\1/p')
anodes=$("$AT" info a.atr | sed -n 's/^stacks *\([0-9,]*\) nodes.*/\1/p')
RUNS=$((RUNS < 3 ? RUNS : 3)) # about 20 s a run
interleaved wall "$(q "$AT" replay a.atr)" "$(q "$AT" report -o wr a.atr)"
arp=${MED[0]} arr=${MED[1]}
echo "  trace: $aev events, $anodes stack nodes, $(size a.atr) bytes"
echo "  wall s: replay $arp, report $arr (median of $RUNS)"
echo "  report / replay:                  $(ratio "$arr" "$arp")   (target <= 1.5)"

