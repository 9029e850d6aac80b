#!/bin/sh
# End-to-end: `arenatrace info` and `dump` on traces written by the
# library (atr-synth), the golden dump, zstd compatibility, and every kind
# of bad input giving one line on stderr and exit status 2.
. "$(dirname "$0")/lib.sh"
GOLDEN="$(dirname "$0")/../golden"

"$SYNTH" -o "$TMP/small.atr" --events 300 --seed 7 --python --threads 2 --exact-time --slots 64
check "atr-synth writes a small trace" test -s "$TMP/small.atr"
check "trace files are created mode 0600" test "$(stat -c %a "$TMP/small.atr")" = 600

"$AT" dump "$TMP/small.atr" >"$TMP/small.dump"
if diff -u "$GOLDEN/synth-small.dump" "$TMP/small.dump" >"$TMP/diff"; then
	ok "dump matches the golden file"
else
	not_ok "dump matches the golden file"
	head -40 "$TMP/diff" | sed 's/^/# /'
fi

# The golden trace committed in traces/examples must stay readable.
if "$AT" dump "$(dirname "$0")/../../traces/examples/sample.atr" >"$TMP/sample.dump" &&
	diff -u "$GOLDEN/sample.dump" "$TMP/sample.dump" >"$TMP/diff"; then
	ok "the committed v1 sample trace dumps as it always did"
else
	not_ok "the committed v1 sample trace dumps as it always did"
	head -20 "$TMP/diff" | sed 's/^/# /'
fi

# golden replays of the committed sample: the JSON, byte for byte
for g in "replay:" "replay-malloc:--layer malloc --model cpython-3.8,cpython-3.13,custom:arena=64K,pool=4K"; do
	name=${g%%:*} args=${g#*:}
	# shellcheck disable=SC2086
	"$AT" replay --json $args "$(dirname "$0")/../../traces/examples/sample.atr" >"$TMP/$name.json" 2>/dev/null
	if diff -u "$GOLDEN/sample.$name.json" "$TMP/$name.json" >"$TMP/diff"; then
		ok "golden replay: sample.$name.json"
	else
		not_ok "golden replay: sample.$name.json"
		head -20 "$TMP/diff" | sed 's/^/# /'
	fi
done

"$AT" dump --limit 5 "$TMP/small.atr" >"$TMP/five"
check "dump --limit 5 prints 5 lines" test "$(wc -l <"$TMP/five")" -eq 5

# info --json: counts agree with the dump, keys the issue promises exist
"$AT" info --json "$TMP/small.atr" >"$TMP/info.json"
check "info --json exits 0" test $? -eq 0
count() { grep -c " t[0-9]* $1 " "$TMP/small.dump"; }
python3 - "$TMP/info.json" "$(count malloc)" "$(count free)" "$(count py_obj_malloc)" \
	"$(count arena_alloc)" "$(count gc_stop)" "$(count snapshot)" "$(count stack)" <<'PY' >"$TMP/py.out" 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
malloc, free, pyobj, arenas, gcs, snaps, stacks = map(int, sys.argv[2:])
for k in ["format_version", "pid", "exe", "argv", "complete", "events", "calls", "python",
          "snapshots", "threads", "stacks", "bytes_compressed"]:
    assert k in j, k
assert set(j["calls"]) == {"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
                           "aligned_alloc", "memalign", "valloc", "pvalloc"}, j["calls"]
for k in ["version", "mem", "obj", "arena_alloc", "arena_free", "gc_passes"]:
    assert k in j["python"], k
assert j["format_version"] == 1 and j["pid"] == 4242 and j["complete"] is True
assert j["argv"] == ["atr-synth", "--synthetic"], j["argv"]
assert j["calls"]["malloc"] == malloc and j["calls"]["free"] == free
assert j["python"]["version"] == "3.12.1"
assert j["python"]["obj"]["malloc"] == pyobj
assert j["python"]["arena_alloc"] == arenas and j["python"]["gc_passes"] == gcs
assert j["snapshots"] == snaps and j["stacks"] == stacks and j["threads"] == 2
assert j["bytes_compressed"] == j["file_bytes"] > 0
assert j["events"] > malloc + free
print("ok")
PY
if grep -qx ok "$TMP/py.out"; then ok "info --json keys and counts agree with dump"; else
	not_ok "info --json keys and counts agree with dump"; sed 's/^/# /' "$TMP/py.out"; fi

"$AT" info "$TMP/small.atr" >"$TMP/info.txt"
check "info text names the process and says complete" \
	grep -q "^complete   yes (exit status 0)" "$TMP/info.txt"

# zstd compatibility: the trace is plain zstd frames
if command -v zstd >/dev/null 2>&1; then
	check "zstd -t accepts the trace" zstd -q -t "$TMP/small.atr"
	zstd -q -d -c "$TMP/small.atr" | head -c 8 | od -An -c | tr -d ' ' >"$TMP/magic"
	check "zstd -d output starts with the magic" grep -q '^211ATRACE\\n$' "$TMP/magic"
else
	skip "zstd -t accepts the trace" "zstd not installed"
	skip "zstd -d output starts with the magic" "zstd not installed"
fi

# a truncated trace is readable and flagged
"$SYNTH" -o "$TMP/big.atr" --events 400000 --seed 3
size=$(stat -c %s "$TMP/big.atr")
head -c $((size - 1000)) "$TMP/big.atr" >"$TMP/cut.atr"
"$AT" info --json "$TMP/cut.atr" >"$TMP/cut.json" 2>"$TMP/cut.err"
check "info on a truncated trace exits 0" test $? -eq 0
check "info flags it: complete false, truncated true" \
	grep -q '"complete": false, "truncated": true' "$TMP/cut.json"
"$AT" dump "$TMP/cut.atr" >/dev/null 2>"$TMP/cut.err"
check "dump on a truncated trace exits 0 with one warning line" \
	sh -c "test \$(wc -l <'$TMP/cut.err') -eq 1 && grep -q 'truncated at byte' '$TMP/cut.err'"

# bad input: one line, exit 2
: >"$TMP/empty"
head -c 5000 /dev/urandom >"$TMP/random"
printf 'hello\n' | zstd -q -c >"$TMP/notrace.zst" 2>/dev/null || printf 'x' >"$TMP/notrace.zst"
cp "$TMP/big.atr" "$TMP/corrupt.atr"
printf 'XXXXXXXX' | dd of="$TMP/corrupt.atr" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
head -c 20 "$TMP/big.atr" >"$TMP/header-cut.atr"
for cmd in info dump; do
	expect_error "$cmd: missing file" "No such file" "$AT" $cmd "$TMP/nope.atr"
	expect_error "$cmd: directory" "is a directory" "$AT" $cmd "$TMP"
	expect_error "$cmd: empty file" "empty file" "$AT" $cmd "$TMP/empty"
	expect_error "$cmd: random bytes" "not an arenatrace trace" "$AT" $cmd "$TMP/random"
	expect_error "$cmd: zstd but not a trace" "not an arenatrace trace" "$AT" $cmd "$TMP/notrace.zst"
	expect_error "$cmd: corrupt middle names the offset" "corrupt frame at byte [0-9]" \
		"$AT" $cmd "$TMP/corrupt.atr"
	expect_error "$cmd: cut inside the first frame" "truncated at byte 0" \
		"$AT" $cmd "$TMP/header-cut.atr"
	expect_error "$cmd: unknown option" "unknown option" "$AT" $cmd --bogus "$TMP/small.atr"
done
expect_error "unknown command" "unknown command" "$AT" frobnicate
expect_error "dump --limit needs a number" "limit" "$AT" dump --limit x "$TMP/small.atr"
"$AT" >/dev/null 2>&1
check "no command: exit 2" test $? -eq 2
check "--help exits 0" sh -c "\"$AT\" --help >/dev/null"
check "info --help exits 0" sh -c "\"$AT\" info --help >/dev/null"

done_testing
