#!/bin/sh
# End-to-end: `arenatrace report`.  Golden CSV files, page and summary of the
# checked-in traces/examples/pinning.atr (atr-synth --pinning --slots 1500
# --seed 3 --exact-time); the CSV files parse as RFC 4180; the HTML page is
# self-contained, opens in headless Chromium without errors with its charts
# (a screenshot is left in the build directory), escapes what a traced
# program put in its argv and its symbols, and stays under 5 MB for a trace
# of 10 M events and small for traces of 1,000+ arenas held, 100 k+ call
# sites and 150 marks; the output directory holds nothing but the report's
# files, and no one else's is ever removed; bad usage fails cleanly.
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
# report.html too, byte for byte: nothing in the page varies from run to
# run (its times and dates are the trace's, the trace's path is the one
# given here, the version is the build's), so nothing is normalised.
for f in summary.txt r/timeline.csv r/sizeclasses.csv r/arenas.csv r/callsites.csv r/stacks.csv r/moments.csv r/gc.csv \
	r/compare.csv r/report.html; do
	g="$GOLDEN/report-pinning/$(basename "$f")"
	if cmp -s "$g" "$f"; then
		ok "golden: $(basename "$f")"
	else
		not_ok "golden: $(basename "$f")"
		case $f in
		*.html) # one long line: where it differs, and 160 bytes around it
			at=$(cmp "$g" "$f" 2>&1 | sed -n 's/.* byte \([0-9]*\).*/\1/p')
			cmp "$g" "$f" 2>&1 | sed 's/^/# /'
			for x in "$g" "$f"; do
				tail -c +$((${at:-1} > 80 ? ${at:-1} - 80 : 1)) "$x" | head -c 160 |
					tr '\n' ' ' | sed 's/^/# /'
				echo
			done ;;
		*)
			diff -u "$g" "$f" | head -20 | sed 's/^/# /' ;;
		esac
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
modules=$("$AT" info --json pinning.atr | python3 -c 'import json, sys; print(json.load(sys.stdin)["modules"])')
check "the page counts the trace's modules as info does ($modules)" \
	sh -c "test '$modules' -gt 0 && grep -q 'stack nodes, $modules modules</td>' r/report.html"
check "the pinning table says when the pinning blocks were allocated" \
	sh -c 'grep -q ">allocated</th>" r/report.html &&
		grep -Eq "<td data-v=\"[0-9]+\">[0-9]+\.[0-9]{3} s &ndash; [0-9]+\.[0-9]{3} s</td>" r/report.html'

# ---- lifelines of full arenas (traces/workloads/pin.wl fills every one) ----
"$AT" simulate -o full.atr "$(dirname "$GOLDEN")/../traces/workloads/pin.wl" >/dev/null
"$AT" report -o full full.atr >/dev/null 2>&1
check "lifelines: every cell is one of the eight shades, a full arena the darkest" python3 -c '
import re
page = open("full/report.html").read()
sec = page[page.index("id=\"lifeline-chart\""):]
sec = sec[:sec.index("</svg>")]
shades = {"#f1f5fb", "#d6e2f3", "#b3c9e8", "#8eaedb", "#6a93cd", "#4977bd", "#2e5c9f", "#1b3f73"}
fills = set(re.findall(r"fill=\"([^\"]*)\"", sec))
assert fills and fills <= shades, fills - shades
full = [row for row in sec.split("<g><title>")[1:] if "peak use 100%</title>" in row]
assert full and all("fill=\"#1b3f73\"" in row[:row.index("</g>")] for row in full), len(full)'

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
	check "the CSV quotes a frame holding commas" \
		grep -Eq '"[^"]*ns::Box<std::pair<int, char> ?&>::make' esc/stacks.csv
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
"$AT" report -o big --model cpython-3.8,cpython-3.13 big.atr >big.out 2>big.err
size=$(wc -c <big/report.html)
check "a trace of 10 M events gives a page under 5 MB ($size bytes)" test "$size" -lt 5000000
# progress through every phase: the replay's passes and the writing of
# each file, on a terminal's stderr only, and cleared before the last line
check "no progress line when stderr is not a terminal" sh -c '! grep -q "writing\|M events" big.err'
if command -v script >/dev/null 2>&1; then
	script -qc "'$AT' report -o bigtty --model cpython-3.8,cpython-3.13 big.atr" /dev/null >tty.txt 2>&1
	check "on a terminal: the writing of each file is shown (callsites.csv, report.html)" \
		sh -c 'grep -aq "report: writing callsites.csv" tty.txt && grep -aq "report: writing report.html" tty.txt'
	check "on a terminal: the progress line is cleared before the report's last line" \
		sh -c 'tr "\r" "\n" <tty.txt | grep -a "report: bigtty/report.html" | grep -avq writing'
	check "on a terminal: the same summary as with stderr elsewhere" \
		sh -c 'tr -d "\r" <tty.txt | sed "s/\x1b\[K//g" | grep -a "^cpython-3.13 " | head -n 1 >t1 &&
			grep "^cpython-3.13 " big.out | head -n 1 >t2 && test -s t1 && cmp -s t1 t2'
else
	skip "progress lines on a terminal" "script(1) not installed"
fi

# ---- scale: 1,000+ arenas held, 100 k+ call sites, 150 marks ----
# More arenas held than the page's table has rows (the held-arena table's
# selection once crashed there), call sites and marks far beyond the
# tables: the report ends well, its tables keep their caps, the page stays
# small.  ARENATRACE_LONG=1 (make test-all) adds a trace ten times larger.
scale_check() { # NAME EVENTS SLOTS SITES MARKS MIN_ARENAS MIN_SITES
	"$SYNTH" -o "$1.atr" --events "$2" --slots "$3" --sites "$4" --marks "$5" --seed 11 \
		>/dev/null 2>&1
	"$AT" report -o "$1" --model custom:arena=16K,pool=4K,cpython-3.13 "$1.atr" \
		>"$1.out" 2>"$1.err"
	rc=$?
	check "report of $1.atr (at least $6 arenas held, $7 call sites, $5 marks) exits 0" \
		test "$rc" -eq 0
	marks=$("$AT" info --json "$1.atr" | python3 -c 'import json, sys; print(json.load(sys.stdin)["marks"])')
	check "$1.atr holds $5 marks ($marks)" test "$marks" -eq "$5"
	check "$1: at least $6 arenas held and $7 call sites; the page's tables keep their caps" \
		python3 - "$1" "$6" "$7" <<'PY'
import csv, re, sys
d, min_arenas, min_sites = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
page = open(d + "/report.html").read()
assert page.endswith("</html>\n"), "the page is cut short"
def rows(name):
    return list(csv.DictReader(open(d + "/" + name, newline="")))
held = [r for r in rows("arenas.csv") if r["model"] == "custom" and r["released_ns"] == ""]
assert len(held) >= min_arenas, len(held)
sites = rows("callsites.csv")
assert len(sites) >= min_sites, len(sites)
# the held arenas' table: the 100 emptiest, emptiest first (then by id)
want = sorted(held, key=lambda r: (int(r["live_bytes_end"]), int(r["id"])))[:100]
sec = page[page.index('<section id="arenas">'):page.index('<section id="pinning">')]
assert "emptiest first (100 of %d)" % len(held) in sec, "held arenas heading"
table = sec[sec.index("<table"):]
got = re.findall(r'<tr><td data-v="(\d+)">', table)
assert got == [r["id"] for r in want], (got[:5], [r["id"] for r in want][:5])
# the call sites' table: the 100 that allocated most, of them all
sec = page[page.index('<section id="callsites">'):page.index('<section id="compare">')]
assert "The 100 of %d call sites" % len(sites) in sec, "call sites heading"
assert sec.count("<tr>") == 101, sec.count("<tr>")
# the lifelines: at most 120 rows
sec = page[page.index('<svg class="chart" id="lifeline-chart"'):]
sec = sec[:sec.index("</svg>")]
assert sec.count("<rect class=\"life\"") == 120, sec.count("<rect class=\"life\"")
PY
	size=$(wc -c <"$1/report.html")
	check "$1: the page stays under 1 MB ($size bytes)" test "$size" -lt 1000000
}
scale_check scale 400000 200000 120000 150 1000 100000
if [ "${ARENATRACE_LONG:-}" = 1 ]; then
	scale_check scale-long 4000000 2000000 1000000 1000 10000 900000
else
	skip "a report of 10,000+ arenas held and 900 k+ call sites" "ARENATRACE_LONG=1 (make test-all)"
fi

# ---- the output directory: a new one, or an earlier report's ----
# A report never removes a file it did not write: a directory that is not
# empty and holds no earlier report (report.manifest) needs --force, a
# file of a report's name that the manifest does not vouch for too, and
# only the earlier report's own files (as it left them) are removed.
mkdir own && echo "my own comparison" >own/compare.csv && echo "notes" >own/notes.txt
expect_error "report -o a directory of someone else's files: refused, with a pointer to --force" \
	"own is not empty and holds no earlier report (--force" \
	"$AT" report -o own --model cpython-3.8 pinning.atr
check "the refused directory is as it was" \
	sh -c 'test "$(ls own | tr "\n" " ")" = "compare.csv notes.txt " &&
		test "$(cat own/compare.csv)" = "my own comparison"'
"$AT" report -o own --force --model cpython-3.8 pinning.atr >/dev/null 2>&1
rc=$?
check "report --force writes into it (exit $rc) and keeps the files it does not write" \
	sh -c 'test '$rc' -eq 0 && test -s own/report.html && test "$(cat own/compare.csv)" = "my own comparison" &&
		test -f own/notes.txt'
expect_error "an earlier report with the user's compare.csv beside it: still refused (a report's name)" \
	"own/compare.csv was not written by the earlier report there" \
	"$AT" report -o own --model cpython-3.8 pinning.atr
mv own/compare.csv own/my-compare.csv
"$AT" report -o own --model cpython-3.8,cpython-3.13 pinning.atr >/dev/null 2>&1
rc=$?
check "an earlier report with files of other names beside it: written again (exit $rc), those kept" \
	sh -c 'test '$rc' -eq 0 && test "$(cat own/my-compare.csv)" = "my own comparison" && test -f own/notes.txt &&
		test -s own/compare.csv'
"$AT" report -o own --model cpython-3.8 pinning.atr >/dev/null 2>&1
check "the manifest lists exactly the files the report wrote, with their sizes" \
	python3 - own <<'PY'
import os, sys
d = sys.argv[1]
lines = open(os.path.join(d, "report.manifest")).read().splitlines()
assert lines[0] == "arenatrace report 1", lines[0]
listed = {}
for l in lines[1:]:
    h, size, name = l.split(" ")
    assert len(h) == 16 and int(h, 16) >= 0, l
    listed[name] = int(size)
want = {"report.html", "timeline.csv", "sizeclasses.csv", "arenas.csv", "callsites.csv", "stacks.csv", "moments.csv", "gc.csv"}
assert set(listed) == want, sorted(listed)
for name, size in listed.items():
    assert os.path.getsize(os.path.join(d, name)) == size, name
PY
"$AT" report -o two --model cpython-3.8,cpython-3.13 pinning.atr >/dev/null 2>&1
"$AT" report -o two --model cpython-3.8 pinning.atr >/dev/null 2>&1
rc=$?
check "an earlier report's compare.csv that this one does not write is removed (exit $rc)" \
	sh -c 'test '$rc' -eq 0 && test ! -e two/compare.csv && test -s two/gc.csv && ! grep -q compare.csv two/report.manifest'
"$AT" report -o two --model cpython-3.8,cpython-3.13 pinning.atr >/dev/null 2>&1
echo "edited by hand" >>two/compare.csv
expect_error "an earlier report's file changed since: refused without --force" \
	"two/compare.csv was not written by the earlier report there, or changed since" \
	"$AT" report -o two --model cpython-3.8 pinning.atr
"$AT" report -o two --force --model cpython-3.8 pinning.atr >/dev/null 2>&1
check "with --force, the changed file is not removed (not the report's any more)" \
	grep -q "edited by hand" two/compare.csv
mkdir lnk && ln -s ../own/notes.txt lnk/report.html
expect_error "a link of a report's name is refused, even with --force" \
	"lnk/report.html is not a plain file" "$AT" report -o lnk --force --model cpython-3.8 pinning.atr
check "the file it points to is as it was" test "$(cat own/notes.txt)" = notes
head -c 2000 pinning.atr >cut.atr
printf 'corrupt' | dd of=cut.atr bs=1 seek=1500 conv=notrunc 2>/dev/null
"$AT" report -o fresh --model cpython-3.8 cut.atr >/dev/null 2>&1
rc=$?
check "a trace that cannot be read (exit $rc) leaves no directory behind" \
	sh -c "test $rc -eq 2 && test ! -e fresh"
before=$(cat two/* | cksum)
"$AT" report -o two --model cpython-3.8 cut.atr >/dev/null 2>&1
check "nor changes an earlier report" test "$(cat two/* | cksum)" = "$before"
(mkdir dflt && cd dflt && cp ../pinning.atr . && "$AT" report pinning.atr >/dev/null 2>&1 &&
	"$AT" report pinning.atr >/dev/null 2>&1)
check "the default directory, TRACE.report, is made, then rewritten as an earlier report" \
	test -s dflt/pinning.report/report.manifest

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
