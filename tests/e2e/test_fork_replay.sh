#!/bin/sh
# End-to-end: a forked child's trace replayed from its parent's state.  A
# CPython program (tests/python/pyfork.py) builds a heap of several arenas,
# runs a second thread, and forks two children that free most of what they
# inherited and build their own; one of them forks a grandchild.  Under every
# CPython 3.8+ on this machine: tracing changes neither the output nor the
# exit status; each child's header names its parent's trace; each child's
# replay (through its parent's, and the grandchild's through two) gives 0
# addresses unlike the interpreter's, 0 arena mismatches, 0 anomalies and
# its snapshot equal to the interpreter's; and the child's stacks are named.
# A C program's forked child replays from its parent's state in the malloc
# layer too.  Then, on one interpreter, what a user meets when the parent's trace is
# not at hand: traces moved together (found beside), the parent's missing,
# another process's trace in its place, a parent's trace cut short, and
# --no-follow-fork: each said in one line, replayed alone, "not compared",
# the inherited frees counted apart and never as anomalies.
. "$(dirname "$0")/lib.sh"
skip_under_asan "forked children replayed from their parents' state"
AT=$(realpath "$AT")
PYDIR=$(realpath "$(dirname "$0")/../python")
FORKER=$(realpath "$B/tests/progs/forker")
cd "$TMP" || exit 1
cp "$PYDIR/pyfork.py" .
at() { echo "$1:$(grep -n "# @$2\$" "$1" | cut -d: -f1)"; } # FILE:LINE of a marker
CHILD_BUILD=$(at pyfork.py child_build) PARENT_BUILD=$(at pyfork.py parent_build)

json() { # json FILE EXPR: EXPR of the JSON in FILE (j the object, m its first model)
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1])); m = j["models"][0] if "models" in j else None
print(eval(sys.argv[2]))' "$1" "$2"
}

# exact_child TAG TRACE ANCESTORS: TRACE replays exactly through ANCESTORS traces
exact_child() {
	_tag=$1 _t=$2 _n=$3
	"$AT" replay --json "$_t" >c.json 2>c.err
	"$AT" replay --check-snapshots "$_t" >c.snap 2>/dev/null
	got=$(json c.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], sum(j["anomalies"].values()), j["fork"]["ancestors_replayed"], j["fork"]["parent_missing"], j["fork"]["inherited_unknown"]')
	if [ "$got" = "(0, 0, 0, $_n, False, 0)" ] && grep -qx "snapshots: 1 checked, 0 mismatched" c.snap &&
		grep -q "is a forked child's trace; replaying $_n parent trace" c.err; then
		ok "$_tag: replayed through $_n parent trace(s): 0 addresses unlike, 0 arena mismatches, 0 anomalies, its snapshot the interpreter's"
	else
		not_ok "$_tag: exact through $_n parent trace(s) (got $got)"
		{ cat c.err; grep snapshots c.snap; } | head -5 | sed 's/^/# /'
	fi
}

ran="" first=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	case " $ran " in *" $v "*) continue ;; esac # one interpreter a version
	ran="$ran $v"
	rm -rf run && mkdir run
	"$py" -W ignore::DeprecationWarning pyfork.py >plain.out 2>plain.err
	pst=$?
	"$AT" record -o "$TMP/run/p.atr" -- "$py" -W ignore::DeprecationWarning pyfork.py \
		>traced.out 2>traced.err
	tst=$?
	if [ "$pst" -eq 0 ] && [ "$tst" -eq 0 ] && cmp -s plain.out traced.out &&
		grep -q "^parent: children exited \[3, 4\]" traced.out; then
		ok "python $v: the forking program's output and exit status as untraced"
	else
		not_ok "python $v: output and status as untraced (status $pst, traced $tst)"
		diff plain.out traced.out | head -5 | sed 's/^/# /'
		continue
	fi
	parent=$TMP/run/p.atr
	set -- run/p.*.*.atr
	grand=$1
	kids=$(ls run/p.*.atr | grep -v "$grand" | grep -v "^run/p.atr$")
	n=$(echo "$kids" | wc -w)
	"$AT" info --json "$grand" >gi.json 2>/dev/null
	mid=$(json gi.json 'j["fork_from"]')
	"$AT" info --json "$mid" >mi.json 2>/dev/null
	if [ "$n" -eq 2 ] && [ -f "$grand" ] && python3 -c 'import json, sys
g = json.load(open("gi.json")); m = json.load(open("mi.json"))
sys.exit(not (m["fork_from"] == sys.argv[1] and g["fork_at"] > 0 and m["fork_at"] > 0 and
              m["fork_at"] != g["fork_at"] and g["fork_from"] in sys.argv[2:]))' "$parent" $(for k in $kids; do realpath "$k"; done); then
		ok "python $v: each child's header names its parent's trace and the events before the fork"
	else
		not_ok "python $v: headers name the parents (children: $n, grandchild: $grand, its parent: $mid)"
	fi
	for k in $kids; do
		exact_child "python $v: child $(basename "$k")" "$k" 1
	done
	exact_child "python $v: grandchild" "$grand" 2
	# the stacks: the child's own line, and the parent's blocks it still holds, both named
	"$AT" replay "$grand" >g.txt 2>/dev/null
	if grep -Eq "[ /]$CHILD_BUILD in child_work\$" g.txt && grep -Eq "[ /]$PARENT_BUILD in <module>\$" g.txt &&
		grep -q "^forked: from .* at its event [0-9]*; replayed from the parent's state: [0-9]* events of 2 earlier traces first" g.txt; then
		ok "python $v: the grandchild's summary names its own and its parents' Python lines"
	else
		not_ok "python $v: the grandchild's summary names $CHILD_BUILD and $PARENT_BUILD"
		grep -E "^forked|pyfork" g.txt | head -5 | sed 's/^/# /'
	fi
	[ -n "$first" ] || { first=$v; cp -r run first; }
done
[ -n "$ran" ] || { skip "forked children replayed" "no CPython 3.8+ here"; done_testing; exit; }

# What a user meets without the parent's trace where the child names it,
# on the first interpreter's traces (copied: the paths they name are gone).
rm -rf run
v=$first
set -- first/p.*.*.atr
grand=$1
child=$(ls first/p.*.atr | grep -v "$grand" | grep -v "^first/p.atr$" | head -n 1)
# alone_ok TAG JSON ERR: replayed alone, not compared, inherited frees apart
alone_ok() {
	got=$(json "$2" 'm["addresses_unlike_interpreter"], m["not_compared"], sum(j["anomalies"].values()), j["fork"]["ancestors_replayed"], j["fork"]["parent_missing"], j["fork"]["inherited_unknown"] > 0')
	if [ "$got" = "(None, \"a forked child replayed without its parent's trace\", 0, 0, True, True)" ]; then
		ok "$1: replayed alone, not compared, the inherited frees apart and no anomaly"
	else
		not_ok "$1: alone, not compared, inherited frees apart (got $got)"
		head -3 "$3" | sed 's/^/# /'
	fi
}

"$AT" replay --json "$child" >mv.json 2>mv.err
if [ "$(json mv.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], sum(j["anomalies"].values()), j["fork"]["ancestors_replayed"]')" = "(0, 0, 0, 1)" ] &&
	grep -q "replaying 1 parent trace up to the fork first, from first/p.atr " mv.err; then
	ok "python $v: traces moved together: the parent's found beside the child's, exact"
else
	not_ok "python $v: traces moved together: parent found beside"
	head -3 mv.err | sed 's/^/# /'
fi

"$AT" replay --no-follow-fork --json "$child" >nf.json 2>nf.err
alone_ok "python $v: --no-follow-fork" nf.json nf.err
"$AT" replay --no-follow-fork "$child" >nf.txt 2>/dev/null
"$AT" replay --no-follow-fork --check-snapshots "$child" >nfs.txt 2>/dev/null
st=$?
if grep -q "^exactness: cpython-$v: not compared: a forked child replayed without its parent's trace$" nf.txt &&
	grep -q "^forked: from .* replayed without that trace: [1-9][0-9]* frees and reallocs of blocks inherited at the fork skipped, not anomalies$" nf.txt &&
	! grep -q "^anomalies:" nf.txt && [ "$st" -eq 1 ] &&
	grep -qx "snapshots: 0 checked, 0 mismatched; 1 not checked: a forked child replayed without its parent's trace" nfs.txt; then
	ok "python $v: alone, the summary says so, and --check-snapshots checks nothing (status 1)"
else
	not_ok "python $v: alone: the summary and --check-snapshots (status $st)"
	grep -E "^(exactness|forked|anomalies|snapshots)" nf.txt nfs.txt | sed 's/^/# /'
fi

# one_line TAG ERR PATTERN: exactly one line of arenatrace's on stderr (the
# other is replay's usual "replay: model ..."), matching
one_line() {
	if [ "$(grep -c '^arenatrace: ' "$2")" -eq 1 ] && grep -q "^arenatrace: .*$3" "$2"; then
		ok "$1: said in one line"
	else
		not_ok "$1: one line matching '$3'"
		head -3 "$2" | sed 's/^/# /'
	fi
}

mkdir missing && cp "$child" missing/
"$AT" replay --json "missing/${child#first/}" >ms.json 2>ms.err
one_line "python $v: the parent's trace missing" ms.err "its parent's trace .*p.atr is not there: replaying it alone"
alone_ok "python $v: the parent's trace missing" ms.json ms.err

mkdir wrong && cp "$child" wrong/ && cp "$grand" wrong/p.atr
"$AT" replay --json "wrong/${child#first/}" >wr.json 2>wr.err
one_line "python $v: another process's trace at the parent's name" wr.err "its parent's trace wrong/p.atr is another process's: replaying it alone"
alone_ok "python $v: another process's trace at the parent's name" wr.json wr.err

mkdir short && cp "$child" short/
size=$(wc -c <first/p.atr)
head -c $((size / 8)) first/p.atr >short/p.atr
"$AT" replay --json "short/${child#first/}" >sh.json 2>sh.err
st=$?
if [ "$st" -eq 0 ] && grep -q "^arenatrace: replay: the parent's trace holds [0-9]* events, not the [0-9]* its child's header says it had at the fork: replaying the child alone$" sh.err; then
	ok "python $v: a parent's trace cut short before the fork: said, status 0"
else
	not_ok "python $v: a parent's trace cut short: said (status $st)"
	head -3 sh.err | sed 's/^/# /'
fi
alone_ok "python $v: a parent's trace cut short before the fork" sh.json sh.err

mkdir nomid && cp "$grand" nomid/ && cp first/p.atr nomid/
"$AT" replay --json "nomid/${grand#first/}" >nm.json 2>nm.err
one_line "python $v: the grandchild without its parent's trace" nm.err "is not there: replaying it alone"
alone_ok "python $v: the grandchild without its parent's trace" nm.json nm.err

# as_html TEXT: TEXT as the page writes it (rep_html_text's escapes of a path and these words)
as_html() { printf '%s' "$1" | sed "s/&/\\&amp;/g; s/</\\&lt;/g; s/>/\\&gt;/g; s/\"/\\&quot;/g; s/'/\\&#39;/g"; }
"$AT" info "$grand" >gi.txt 2>&1
"$AT" report -o rep "$grand" >rep.out 2>rep.err
st=$?
"$AT" replay "$grand" >gr.txt 2>/dev/null
said=$(sed -n 's/^forked: //p' gr.txt)
if grep -q "^fork from  .*, after its event [1-9][0-9]* (the parent's trace; replay starts from its state)$" gi.txt &&
	[ "$st" -eq 0 ] && grep -q "child_work" rep/stacks.csv && [ -s rep/report.html ] &&
	echo "$said" | grep -q "^from [^<]* at its event [0-9]*; replayed from the parent's state: [0-9]* events of 2 earlier traces first$" &&
	grep -qF "<tr><th class=\"l\">forked</th><td class=\"l\">$(as_html "$said")</td></tr>" rep/report.html; then
	ok "python $v: info shows the fork; report of the grandchild, its call sites named, the page says from which state in the summary's words"
else
	not_ok "python $v: info and report of the grandchild (report status $st)"
	{ grep fork gi.txt; grep "^forked" gr.txt; grep -o "<th class=\"l\">forked</th><td[^/]*" rep/report.html; head -3 rep.err; } | sed 's/^/# /'
fi
# replayed alone: the page says what the summary says
"$AT" report --no-follow-fork -o rep-alone "$child" >/dev/null 2>&1
said=$(sed -n 's/^forked: //p' nf.txt)
if [ -n "$said" ] && grep -qF "<tr><th class=\"l\">forked</th><td class=\"l\">$(as_html "$said")</td></tr>" rep-alone/report.html; then
	ok "python $v: a child reported alone: the page's forked row is the summary's line"
else
	not_ok "python $v: a child reported alone: the page's forked row is the summary's line"
	{ grep "^forked" nf.txt; grep -o "<th class=\"l\">forked</th><td[^/]*" rep-alone/report.html; } | sed 's/^/# /'
fi

# A C program's forked child (tests/progs/forker.c frees, in the child, a
# block its parent allocated before the fork): the malloc layer too.
mkdir c && cd c || exit 1
"$AT" record -o f.atr -- "$FORKER" >/dev/null 2>&1
cd .. || exit 1
kid=""
for t in c/f.*.atr; do
	"$AT" info --json "$t" >k.json 2>/dev/null
	[ "$(json k.json 'j["fork_from"] is not None and j["exec_to"] is None and j["calls"]["free"] > 0')" = True ] && { kid=$t; break; }
done
"$AT" replay --json "$kid" >cf.json 2>/dev/null
"$AT" replay --no-follow-fork --json "$kid" >cn.json 2>/dev/null
if [ -n "$kid" ] && [ "$(json cf.json 'j["layer"], sum(j["anomalies"].values()), j["fork"]["ancestors_replayed"]')" = "('malloc', 0, 1)" ] &&
	[ "$(json cn.json 'sum(j["anomalies"].values()), j["fork"]["inherited_unknown"]')" = "(0, 1)" ]; then
	ok "a C program's child: its free of the parent's block known through the parent's trace, counted apart alone"
else
	not_ok "a C program's child (trace ${kid:-none}) replayed from its parent's state"
fi
echo "# CPython versions run:$ran"
done_testing
