#!/bin/sh
# mk/demo.sh BUILD_DIR - `make demo`: the main job on a bundled workload,
# as far as arenatrace has come.  Today: the trace format.  The workload is
# traces/examples/synth.c (a churn of malloc/free with a Python layer),
# written through the same writer the tracer uses; `info` and `dump` then
# read it back.  Recording real programs, replay and reports are not built
# yet and the demo says so.
set -eu
B=$1
OUT=build/demo
mkdir -p "$OUT"
rm -f "$OUT/churn.atr"
echo "== record: the LD_PRELOAD tracer is not built yet; writing the bundled"
echo "   synthetic workload (traces/examples/synth.c) through the trace writer"
"$B/atr-synth" -o "$OUT/churn.atr" --events 1000000 --python --threads 2
echo
echo "== arenatrace info $OUT/churn.atr"
"$B/arenatrace" info "$OUT/churn.atr"
echo
echo "== arenatrace dump --limit 16 $OUT/churn.atr"
"$B/arenatrace" dump --limit 16 "$OUT/churn.atr"
echo
echo "== replay and report: not built yet (the trace above is their input)"
