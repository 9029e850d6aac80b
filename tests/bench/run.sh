#!/bin/sh
# tests/bench/run.sh BUILD_DIR - every benchmark; each prints its ratios.
set -eu
B=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "== trace format: encoding + compression speed, decoding speed, size"
# churn: 64 K live slots, 95% of sizes 1-512 B, 5% up to 64 KiB, two call sites
"$B/atr-synth" -o "$TMP/churn.atr" --events 4000000 --seed 1
"$B/tests/bench_format" synthetic-churn "$TMP/churn.atr"
"$B/atr-synth" -o "$TMP/python.atr" --events 2000000 --seed 2 --python --threads 4
"$B/tests/bench_format" synthetic-churn+python "$TMP/python.atr"
