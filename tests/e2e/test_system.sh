#!/bin/sh
# End-to-end: replay --system measures the memory a real allocator holds
# for the replayed blocks alone, not the replay's own.  The trace is the
# simulated traces/workloads/pin.wl, whose live heap is known: 2000 groups
# of a 56-byte list, 99 items and a survivor of 64 bytes, and two 56-byte
# lists, 12,912,112 bytes at the peak.  Through glibc, and jemalloc and
# mimalloc when installed: the heap at the peak is at least that, and no
# more than the allocator's rounding of those sizes adds (30%, and a MiB
# for its own metadata), where the replaying process's resident memory
# was three times the live bytes; the same figures twice running; and the
# figures in the summary, the JSON, report.html and system.csv.
. "$(dirname "$0")/lib.sh"
AT=$(realpath "$AT")
WORKLOADS=$(realpath "$(dirname "$0")/../../traces/workloads")
cd "$TMP" || exit 1
LIVE=12912112

"$AT" simulate -o pin.atr "$WORKLOADS/pin.wl" >/dev/null
"$AT" replay --json pin.atr >plain.json 2>/dev/null
check "the trace's live bytes peak at $LIVE" python3 -c '
import json, sys; j = json.load(open("plain.json")); assert j["live"]["peak_bytes"] == int(sys.argv[1]), j["live"]' $LIVE

for lib in "" /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libmimalloc.so.2; do
	want=${lib:+$(basename "$lib" | sed 's/\.so.*//; s/^lib//')}
	if [ -n "$lib" ] && [ ! -f "$lib" ]; then
		skip "replay --system under $want" "$(basename "$lib") not installed"
		continue
	fi
	if [ -n "$lib" ] && [ "${ARENATRACE_SAN:-}" = address ]; then
		skip "replay --system under $want" "ASan's allocator comes first under SAN=address"
		continue
	fi
	name=${want:-glibc}
	[ -z "$want" ] && [ "${ARENATRACE_SAN:-}" = address ] && name="ASan's malloc"
	LD_PRELOAD=$lib "$AT" replay --system --json pin.atr >one.json 2>one.err
	LD_PRELOAD=$lib "$AT" replay --system --json pin.atr >two.json 2>/dev/null
	heap=$(python3 -c 'import json; print(json.load(open("one.json"))["system"]["heap_peak_bytes"])' 2>/dev/null)
	# (an ASan build's malloc is ASan's own)
	check "$name: every request replayed, through $name" python3 -c '
import json, sys
j = json.load(open("one.json")); y = j["system"]
assert (sys.argv[1] or ("libasan" if sys.argv[2] == "address" else "libc")) in y["allocator"], y
assert y["ops"] == j["requests"] and y["ns_per_op"] > 0, y' "$want" "${ARENATRACE_SAN:-}"
	if [ "${ARENATRACE_SAN:-}" = address ]; then
		skip "$name: the heap's peak against the live bytes" "ASan's redzones and quarantine"
	else
		check "$name: the heap holds $heap bytes at its peak: the live bytes and the allocator's rounding, no bookkeeping" \
			python3 -c '
import json, sys
live = int(sys.argv[1]); y = json.load(open("one.json"))["system"]
assert live <= y["heap_peak_bytes"] <= 1.3 * live + (1 << 20), y
assert 128056 <= y["heap_end_bytes"] <= y["heap_peak_bytes"], y
assert y["rss_peak_bytes"] >= y["rss_start_bytes"] > 0, y' $LIVE
	fi
	check "$name: the same figures running again" python3 -c '
import json
a = json.load(open("one.json"))["system"]; b = json.load(open("two.json"))["system"]
for k in "heap_peak_bytes", "heap_end_bytes":
    assert abs(a[k] - b[k]) <= 0.01 * a[k] + 65536, (k, a[k], b[k])'
done

# the figures in the summary, the page and system.csv
"$AT" report --system -o rep pin.atr >summary.txt 2>/dev/null
check "report --system: the summary, report.html and system.csv say what the allocator held" \
	python3 -c '
import csv, re
rows = list(csv.DictReader(open("rep/system.csv", newline="")))
assert len(rows) == 1, rows
y = rows[0]
heap = int(y["heap_peak_bytes"])
assert int(y["live_peak_bytes"]) == 12912112 and heap >= 12912112, y
summary = open("summary.txt").read()
assert re.search(r"system allocator \S+: \d+ calls, [0-9.]+ ns each; it holds %d bytes for the blocks at the peak" % heap, summary), summary
page = open("rep/report.html").read()
sec = page[page.index("<section id=\"system\">"):]
sec = sec[:sec.index("</section>")]
assert "<td data-v=\"%d\"" % heap in sec and y["allocator"] in sec, sec[:300]'
"$AT" report -o rep pin.atr >/dev/null 2>&1
check "a report without --system removes the earlier one's system.csv" test ! -e rep/system.csv
done_testing
