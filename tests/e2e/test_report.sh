#!/bin/sh
# End-to-end: `arenatrace report`.  Golden CSV files and summary of the
# checked-in traces/examples/pinning.atr (atr-synth --pinning --slots 1500
# --seed 3 --exact-time); the CSV files parse as RFC 4180; the HTML page is
# self-contained, opens in headless Chromium without errors with its charts
# (a screenshot is left in the build directory), escapes what a traced
# program put in its argv and its symbols, and stays under 5 MB for a trace
# of 10 M events; bad usage fails cleanly.
. "$(dirname "$0")/lib.sh"
AT=$(realpath "$AT")
SYNTH=$(realpath "$SYNTH")
BUILD=$(realpath "$B")
GOLDEN=$(realpath "$(dirname "$0")/../golden")
PINNING=$(realpath "$(dirname "$0")/../../traces/examples/pinning.atr")
cd "$TMP" || exit 1
MODELS=cpython-3.8,custom:arena=64K,pool=4K,keep-empty=0

# ---- golden ----
cp "$PINNING" pinning.atr
"$AT" report -o r --model $MODELS pinning.atr >summary.txt 2>err.txt
check "report exits 0" test $? -eq 0
for f in summary.txt r/timeline.csv r/sizeclasses.csv r/arenas.csv r/callsites.csv r/gc.csv r/compare.csv; do
	g="$GOLDEN/report-pinning/$(basename "$f")"
	if diff -u "$g" "$f" >diff.txt; then
		ok "golden: $(basename "$f")"
	else
		not_ok "golden: $(basename "$f")"
		head -20 diff.txt | sed 's/^/# /'
	fi
done
"$AT" replay --gc off --model cpython-3.8 pinning.atr >gcoff.txt 2>/dev/null
if diff -u "$GOLDEN/report-pinning/replay-gc-off.txt" gcoff.txt >diff.txt; then
	ok "golden: replay --gc off summary"
else
	not_ok "golden: replay --gc off summary"
	head -20 diff.txt | sed 's/^/# /'
fi
check "a missing module is said once, on stderr" \
	sh -c 'test "$(grep -c "symbols: /usr/bin/synthetic: cannot open it" err.txt)" -eq 1'

# ---- CSV: RFC 4180, every row as wide as its header ----
check "every CSV file parses (RFC 4180) with rows as wide as the header" python3 -c '
import csv, glob, sys
for name in glob.glob("r/*.csv"):
    data = open(name, newline="").read()
    assert data.endswith("\r\n"), name
    rows = list(csv.reader(data.splitlines(True)))
    assert len(rows) > 1, name
    assert all(len(r) == len(rows[0]) for r in rows), name'

# ---- the page without a browser ----
check "report.html is one self-contained page (no external script, style, font or link)" \
	sh -c '! grep -Eiq "(src|href)=\"(https?:)?//|<link|@import|url\(" r/report.html &&
		test "$(grep -o "<script" r/report.html | wc -l)" -eq 1'
check "the charts are inline SVG" sh -c 'for id in memory-chart lifeline-chart classes-peak-chart classes-end-chart compare-chart; do
	grep -q "<svg[^>]*id=\"$id\"" r/report.html || exit 1; done'
check "readable without script: the stacks are <details>, the data in tables" \
	sh -c 'grep -q "<details><summary>#3 synthetic+0x1300" r/report.html && grep -q "<table" r/report.html'
check "the pinning table says when the pinning blocks were allocated" \
	sh -c 'grep -q ">allocated</th>" r/report.html &&
		grep -Eq "<td data-v=\"[0-9]+\">[0-9]+\.[0-9]{3} s &ndash; [0-9]+\.[0-9]{3} s</td>" r/report.html'

# ---- escaping: argv and C++ symbols from a real traced program ----
skip_esc=""
[ "${ARENATRACE_SAN:-}" = address ] && skip_esc="preload library under SAN=address"
if [ -z "$skip_esc" ]; then
	"$AT" record -o esc.atr -- "$BUILD/tests/progs/symprog" '<script>alert(1)</script>' '&x' >/dev/null 2>&1
	"$AT" report -o esc esc.atr >/dev/null 2>&1
	check "argv shows as text: <script> escaped" \
		sh -c 'grep -q "&lt;script&gt;alert(1)&lt;/script&gt; &amp;x" esc/report.html &&
			! grep -q "<script>alert" esc/report.html'
	check "a C++ symbol with < and & shows as text" \
		grep -Eq "ns::Box&lt;std::pair&lt;int, char&gt; ?&amp;&gt;::make" esc/report.html
	check "the CSV quotes a frame list holding commas" \
		grep -Eq '"[^"]*ns::Box<std::pair<int, char> ?&>::make' esc/callsites.csv
else
	skip "escaping in a real program's report" "$skip_esc"
	skip "C++ symbols escaped" "$skip_esc"
	skip "CSV quoting of C++ symbols" "$skip_esc"
fi

# ---- a real browser ----
if command -v chromium >/dev/null 2>&1; then
	page=r
	[ -z "$skip_esc" ] && page=esc
	shot="$BUILD/tests/report-screenshot.png"
	rm -f "$shot"
	set -- --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$TMP/chromium" --enable-logging=stderr --v=0
	timeout 120 chromium "$@" --dump-dom "file://$TMP/$page/report.html" >dom.html 2>chromium.err
	check "Chromium ran the page's script to its end" grep -q 'data-ready="1"' dom.html
	check "no script error on the page" sh -c '! grep -q "<body[^>]*data-errors" dom.html'
	check "no console error" sh -c '! grep -E ":CONSOLE\([0-9]+\)\]|Uncaught" chromium.err'
	check "the charts are in the rendered page" sh -c 'grep -q "id=\"memory-chart\"" dom.html && grep -q "id=\"lifeline-chart\"" dom.html'
	check "the page's only script is its own (the argv's is text)" \
		test "$(grep -o "<script" dom.html | wc -l)" -eq 1
	timeout 120 chromium "$@" --window-size=1000,2600 --screenshot="$shot" \
		"file://$TMP/$page/report.html" >/dev/null 2>&1
	check "a screenshot is written ($shot)" test -s "$shot"
else
	skip "the page in headless Chromium" "chromium not installed (.ci/run installs it)"
fi

# ---- size bound: 10 M events ----
"$SYNTH" -o big.atr --events 10000000 --seed 9 >/dev/null 2>&1
"$AT" report -o big --model cpython-3.8,cpython-3.13 big.atr >/dev/null 2>&1
size=$(wc -c <big/report.html)
check "a trace of 10 M events gives a page under 5 MB ($size bytes)" test "$size" -lt 5000000

# ---- bad usage ----
touch afile
expect_error "report -o onto a file" "cannot make the directory afile" "$AT" report -o afile pinning.atr
expect_error "report takes no --json" "'--json' is replay's" "$AT" report --json pinning.atr
expect_error "report of a missing trace" "nosuch.atr" "$AT" report -o x nosuch.atr
check "report --help" sh -c "'$AT' report --help | grep -q '^usage: arenatrace report'"
"$AT" report -o gcoff --gc off --model cpython-3.8 pinning.atr >/dev/null 2>&1
check "report --gc off: the twin side by side" \
	sh -c 'head -1 gcoff/compare.csv | tr -d "\r" | grep -qx "metric,cpython-3.8,cpython-3.8 gc-off"'
done_testing
