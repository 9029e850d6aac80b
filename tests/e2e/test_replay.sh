#!/bin/sh
# End-to-end: the replay engine's promises that need whole runs: memory
# bounded by the live set, not the trace's length; anomalies never stop it;
# fuzzed traces never crash it (tests/fuzz covers the record streams).
. "$(dirname "$0")/lib.sh"
AT=$(realpath "$AT")
SYNTH=$(realpath "$SYNTH")
cd "$TMP" || exit 1

# peak RSS (KiB) of a command, from the kernel's accounting of children
rss() {
	python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

# The same live set (20,000 slots), a trace ten times longer.
"$SYNTH" -o short.atr --events 300000 --slots 20000 --seed 5
"$SYNTH" -o long.atr --events 3000000 --slots 20000 --seed 5
for layer in malloc python; do
	if [ "${ARENATRACE_SAN:-}" = address ]; then
		# ASan keeps freed memory in quarantine: RSS grows with the work done
		skip "bounded memory ($layer layer)" "peak RSS says nothing under ASan"
		continue
	fi
	a=$(rss "$AT" replay --layer $layer --model cpython-3.8,cpython-3.12 short.atr)
	b=$(rss "$AT" replay --layer $layer --model cpython-3.8,cpython-3.12 long.atr)
	check "bounded memory ($layer layer): peak RSS ${a} KiB for a trace, ${b} KiB for one 10x longer (within 10%)" \
		python3 -c "import sys; a, b = $a, $b; sys.exit(not (abs(b - a) <= 0.1 * a))"
done

# several models in one pass give each the same requests
"$AT" replay --json --model cpython-3.8,cpython-3.13 long.atr >two.json 2>/dev/null
"$AT" replay --json --model cpython-3.13 long.atr >one.json 2>/dev/null
check "a model in a multi-model pass gives the result it gives alone" python3 -c '
import json; a = json.load(open("two.json"))["models"][1]; b = json.load(open("one.json"))["models"][0]
assert a == b'
check "replay summary names every model" sh -c "'$AT' replay --model cpython-3.8,cpython-3.11 long.atr 2>/dev/null | grep -q '^cpython-3.11 '"
# progress: on a terminal's stderr only, once the replay runs over a second
"$AT" replay --model cpython-3.8,cpython-3.12,cpython-3.13 long.atr >/dev/null 2>err.txt
check "no progress line when stderr is not a terminal" sh -c '! grep -q "%" err.txt'
if command -v script >/dev/null 2>&1; then
	start=$(date +%s)
	script -qc "'$AT' replay --model cpython-3.8,cpython-3.9,cpython-3.10,cpython-3.11,cpython-3.12,cpython-3.13,custom:arena=64K,custom:pool=4K long.atr --system" /dev/null >tty.txt 2>&1
	took=$(($(date +%s) - start))
	if [ "$took" -ge 3 ]; then
		check "a progress line on a terminal (the replay took ${took} s)" grep -q "replay: .*%, .* M events" tty.txt
	else
		skip "a progress line on a terminal" "the replay took under 3 s"
	fi
else
	skip "a progress line on a terminal" "script(1) not installed"
fi
done_testing
