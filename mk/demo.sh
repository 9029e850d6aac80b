#!/bin/sh
# mk/demo.sh BUILD_DIR - `make demo`: the main job on the bundled workload,
# as far as arenatrace has come: record (traces/examples/workload.py under
# the system python3, or the churn C program without one), look at the
# trace with info and dump, replay it through the pymalloc model and check
# the model against the real allocator's snapshots, then write the report
# (HTML page and CSV files) and print the summary and where it is.
set -eu
B=$1
OUT=build/demo
mkdir -p "$OUT"
rm -rf "$OUT"/*.atr "$OUT/report" # the demo's own outputs, made anew
if command -v python3 >/dev/null 2>&1; then
	PY=$(python3 -c 'import sys; print(sys.executable)')
	echo "== arenatrace record -o $OUT/workload.atr -- $PY traces/examples/workload.py"
	"$B/arenatrace" record -o "$OUT/workload.atr" -- "$PY" traces/examples/workload.py
else
	echo "== (no python3) arenatrace record -o $OUT/workload.atr -- $B/tests/bench/churn 200000"
	"$B/arenatrace" record -o "$OUT/workload.atr" -- "$B/tests/bench/churn" 200000
fi
echo
echo "== arenatrace info $OUT/workload.atr"
"$B/arenatrace" info "$OUT/workload.atr"
echo
echo "== arenatrace dump $OUT/workload.atr | grep -m 12 -E ' (arena_alloc|gc_stop|mark|py_obj_malloc) '"
"$B/arenatrace" dump "$OUT/workload.atr" | grep -m 12 -E ' (arena_alloc|gc_stop|mark|py_obj_malloc) ' | cut -c1-150
if command -v python3 >/dev/null 2>&1; then
	echo
	echo "== arenatrace replay --check-snapshots $OUT/workload.atr"
	echo "   (the pymalloc model, fed the recorded requests, against the real allocator)"
	"$B/arenatrace" replay --check-snapshots "$OUT/workload.atr" || true
	echo
	echo "== arenatrace report -o $OUT/report --model cpython-3.8,cpython-3.13 --gc off $OUT/workload.atr"
	echo "   (two interpreter versions, each also without its cyclic collector: arenas,"
	echo "    fragmentation, where the held bytes go; then the moments analysed in full,"
	echo "    shown here for the first model with two stacks each: the peak, the worst"
	echo "    moment, the marks, and the program's exit before the interpreter's teardown,"
	echo "    with the survivors that keep the arenas and the blocks still live)"
	"$B/arenatrace" report -o "$OUT/report" --model cpython-3.8,cpython-3.13 --gc off \
		"$OUT/workload.atr" 2>/dev/null |
		awk '/^report: /{print; next}
			/ at .* \(request [0-9]+, /{moment = 1; split($0, w, " at ");
				if (first == "") first = w[1]; show = w[1] == first}
			!moment {print; next}
			!show {next}
			/^ +[0-9]+ (arenas|blocks), /{if (++stacks <= 2) print; frames = 0; next}
			/^        /{if (stacks <= 2 && ++frames <= 4) print; next}
			{stacks = 0; print}'
	echo
	echo "== the report: open $OUT/report/report.html in a browser"
	ls -l "$OUT/report" | sed 1d
else
	echo
	echo "== arenatrace report -o $OUT/report $OUT/workload.atr"
	"$B/arenatrace" report -o "$OUT/report" "$OUT/workload.atr" 2>/dev/null | head -n 12
	echo "== the report: open $OUT/report/report.html in a browser"
fi
