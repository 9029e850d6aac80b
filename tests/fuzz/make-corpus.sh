#!/bin/sh
# tests/fuzz/make-corpus.sh BUILD_DIR OUT_DIR - seed corpora for the two
# fuzz targets, made with atr-synth: OUT_DIR/reader (trace files, whole,
# and cut short) and OUT_DIR/raw (decompressed streams).
set -eu
B=$1 OUT=$2
rm -rf "$OUT"
mkdir -p "$OUT/reader" "$OUT/raw"
i=0
for args in "--events 40" "--events 200 --python" "--events 300 --threads 3 --exact-time" \
	"--events 2000 --python --threads 2" "--events 50 --slots 4"; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	"$B/atr-synth" -o "$OUT/reader/t$i.atr" --seed $i $args
	size=$(wc -c <"$OUT/reader/t$i.atr")
	head -c $((size * 2 / 3)) "$OUT/reader/t$i.atr" >"$OUT/reader/t$i-cut.atr"
	if command -v zstd >/dev/null 2>&1; then
		zstd -q -d -c "$OUT/reader/t$i.atr" >"$OUT/raw/t$i.raw"
		size=$(wc -c <"$OUT/raw/t$i.raw")
		head -c $((size / 2)) "$OUT/raw/t$i.raw" >"$OUT/raw/t$i-cut.raw"
	fi
done
