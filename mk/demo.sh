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
	echo "    fragmentation, where the held bytes go, what keeps the nearly empty arenas;"
	echo "    only the first stacks of each list are shown here)"
	"$B/arenatrace" report -o "$OUT/report" --model cpython-3.8,cpython-3.13 --gc off \
		"$OUT/workload.atr" 2>/dev/null |
		awk '/ at the (peak|end): /{n = 0; print; next}
			/^ +[0-9]+ arenas, /{n++; f = 0; if (n <= 2) print; next}
			/^        /{if (n <= 2 && ++f <= 4) print; next}
			{print}'
	echo
	echo "== the report: open $OUT/report/report.html in a browser"
	ls -l "$OUT/report" | sed 1d
else
	echo
	echo "== arenatrace report -o $OUT/report $OUT/workload.atr"
	"$B/arenatrace" report -o "$OUT/report" "$OUT/workload.atr" 2>/dev/null | head -n 12
	echo "== the report: open $OUT/report/report.html in a browser"
fi
