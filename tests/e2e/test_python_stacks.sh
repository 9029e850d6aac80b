#!/bin/sh
# End-to-end: the replay and the report speak in Python frames.  For every
# CPython 3.8-3.13 on this machine (pyenv's and the system python3; the
# suite says which ran and fails if none did), a program of two files, one
# importing the other, whose surviving blocks are made at known lines of
# known functions, is recorded; at its exit, the first stack of the pinning
# table names exactly those files, lines and functions, innermost first,
# in replay's summary, in the report's moments.csv, in replay --json (each
# frame of the program's own files) and in report.html (marked as the
# program's); --stacks native shows C frames only, --stacks hybrid both;
# dump --symbolize names the Python frames and info counts the requests
# whose stacks hold them.
. "$(dirname "$0")/lib.sh"
skip_under_asan "CPython under the tracer"
AT=$(realpath "$AT")
cd "$TMP" || exit 1
APP=$(realpath "$TMP")/app
mkdir -p "$APP"

# The survivors: every 64th of 60000 bytearrays (object and buffer, two C
# paths from one line), so the arenas that held them all stay nearly
# empty until the program exits.  The line numbers below are the test's.
cat >"$APP/store.py" <<'PY'
# the blocks that survive are made here
import sys


def fill(n):
    out = []
    for i in range(n):
        out.append(bytearray(40))
    return out
PY
cat >"$APP/main.py" <<'PY'
import store


def build(n):
    junk = store.fill(n)
    return junk[::64]


kept = build(60000)
print(len(kept))
PY
# innermost first, as the reports write them
WANT="$APP/store.py:8 in fill|$APP/main.py:5 in build|$APP/main.py:9 in <module>"

# top_stack FILE: the frame lines of the first stack after the line
# "... at exit (request ..." in a summary, "|" between them.
top_stack() {
	awk '/ at exit \(request [0-9]+, /{m = 1; next}
		m && /^ +[0-9]+ arenas, /{if (s) exit; s = 1; next}
		s && /^        /{sub(/^        /, ""); printf "%s%s", n++ ? "|" : "", $0; next}
		s {exit}' "$1"
}

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	tag="python $v ($py)"
	rm -rf t.atr r
	if ! "$AT" record -o t.atr -- "$py" "$APP/main.py" >out.txt 2>err.txt ||
		[ "$(cat out.txt)" != 938 ]; then
		not_ok "$tag: the program runs under the tracer ($(tail -n 3 err.txt | tr '\n' ' '))"
		continue
	fi
	ran="$ran $v"
	# the summary, python mode (the default)
	"$AT" replay --at exit t.atr >sum.txt 2>/dev/null
	got=$(top_stack sum.txt)
	if [ "$got" = "$WANT" ]; then
		ok "$tag: replay's first pinning stack at exit is the program's lines"
	else
		not_ok "$tag: replay's first pinning stack at exit is the program's lines"
		echo "# want: $WANT"
		echo "# got:  $got"
	fi
	# the report: moments.csv's top pinning stack, and the page
	"$AT" report -o r --at exit t.atr >/dev/null 2>&1
	check "$tag: the report's moments.csv names them" python3 -c '
import csv, sys
rows = list(csv.DictReader(open("r/moments.csv", newline="")))
exit_row = [r for r in rows if r["kind"] == "exit"][0]
got = exit_row["top_pinning_frames"].split(" < ")
want = sys.argv[1].split("|")
assert got == want, (got, want)' "$WANT"
	check "$tag: the page marks them as the program's" \
		grep -q "<li class=\"own\">$APP/store.py:8 in fill</li><li class=\"own\">$APP/main.py:5 in build</li>" \
		r/report.html
	# --json: the same frames, described one by one
	"$AT" replay --json --at exit t.atr >j.json 2>/dev/null
	check "$tag: replay --json names them, each of the program's own files" python3 -c '
import json, sys
d = json.load(open("j.json"))
top = d["models"][0]["moments"][0]["pinning"]["stacks"][0]
app = sys.argv[1]
want = [(app + "/store.py", 8, "fill"), (app + "/main.py", 5, "build"), (app + "/main.py", 9, "<module>")]
got = [(f["file"], f["line"], f["function"]) for f in top["python"]]
assert got == want, got
assert all(f["origin"] == "program" for f in top["python"]), top["python"]
assert top["symbols"] == sys.argv[2].split("|"), top["symbols"]
assert len(top["merged_stacks"]) >= 2, top   # the object and its buffer
' "$APP" "$WANT"
	# native: C frames only; hybrid: both
	"$AT" replay --at exit --stacks native t.atr >native.txt 2>/dev/null
	got=$(top_stack native.txt)
	check "$tag: --stacks native shows the C frames only" \
		sh -c 'test -n "$1" && ! echo "$1" | grep -q "\.py:" && echo "$1" | grep -Eq "[A-Za-z_]+ at [a-z_]+\.[ch]:[0-9]+|\+0x[0-9a-f]+"' \
		sh "$got"
	"$AT" replay --json --at exit --stacks hybrid t.atr >h.json 2>/dev/null
	check "$tag: --stacks hybrid shows both, in call order" python3 -c '
import json, sys
d = json.load(open("h.json"))
lines = d["models"][0]["moments"][0]["pinning"]["stacks"][0]["symbols"]
want = sys.argv[1].split("|")
py = [l for l in lines if ".py:" in l]
assert [l for l in py if l in want] == want, lines
first = lines.index(want[0])
assert first > 0 and ".py:" not in lines[0], lines   # the leaf is the C code that allocated
' "$WANT"
	check "$tag: dump --symbolize names the Python frames" \
		sh -c "'$AT' dump --symbolize t.atr | grep -q ' code=[0-9]* offset=[0-9]* sym=\"$APP/store.py:8 in fill\"'"
	check "$tag: info counts the requests whose stacks hold Python frames" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run([sys.argv[1], "info", "--json", "t.atr"], capture_output=True, check=True).stdout)
n = d["python"]["requests_with_python_frames"]
assert 60000 < n < d["requests"], (n, d["requests"])
assert d["python"]["codes"] >= 3' "$AT"
done
if [ -n "$ran" ]; then
	ok "ran under CPython$ran"
else
	not_ok "no CPython 3.8-3.13 found"
fi
done_testing
