#!/bin/sh
# End-to-end: the replay's cross-checks against real CPython.  A program
# that allocates and frees many arenas in waves (tests/python/arenawaves.py)
# is recorded under every CPython 3.8+ on this machine; replayed with the
# recorded version's profile, every address and every arena release is the
# interpreter's (0 and 0, in --json and the summary).  The same trace less
# one arena_free record (atr-drop) gives exactly one arena mismatch, the
# model's release the trace no longer shows.  Then what is not compared is
# null, never 0: a model of another version, PYTHONMALLOC=malloc; and the
# tracer's dropped events have their own field.  Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "the replay's cross-checks against real CPython"
AT=$(realpath "$AT")
DROP=$(realpath "$B/atr-drop")
LIBEARLY=$(realpath "$B/tests/progs/libearly.so")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1

# jq-like: json FILE EXPR prints EXPR of the JSON in FILE (j is the object,
# m its first model)
json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1])); m = j["models"][0] if "models" in j else None
print(eval(sys.argv[2]))' "$1" "$2"
}

record() { # record TRACE PY [env...]: arenawaves.py under PY
	_t=$1 _py=$2
	shift 2
	rm -f "$_t"
	(cd "$PYDIR" && env "$@" "$AT" record -o "$TMP/$_t" -- "$_py" arenawaves.py) >/dev/null 2>&1
}

ran="" first=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	case " $ran " in *" $v "*) continue ;; esac # one interpreter a version
	ran="$ran $v"
	[ -n "$first" ] || first=$py
	record t.atr "$py"
	"$AT" info --json t.atr >info.json 2>/dev/null
	frees=$(json info.json 'j["python"]["arena_free"]')
	if [ "${frees:-0}" -lt 2 ]; then
		not_ok "python $v: the program frees arenas (arena_free records: ${frees:-none})"
		continue
	fi
	"$AT" replay --json t.atr >r.json 2>r.err
	"$AT" replay t.atr >r.txt 2>/dev/null
	want="exactness: cpython-$v: 0 addresses unlike the interpreter's, 0 arena mismatches"
	dropped=$(json info.json 'j["dropped"]') # the UBSan build's tracer drops one
	if [ "$(json r.json 'm["profile"], m["addresses_unlike_interpreter"], m["arena_mismatches"], sum(m["arena_mismatch_parts"].values()), j["dropped"]')" = "('cpython-$v', 0, 0, 0, $dropped)" ] &&
		grep -qx "$want" r.txt; then
		ok "python $v: $frees arenas freed, every release and every address as the interpreter's"
	else
		not_ok "python $v: 0 arena mismatches and 0 addresses unlike ($frees arenas freed)"
		{ json r.json 'm["profile"], m["addresses_unlike_interpreter"], m["arena_mismatches"], m["arena_mismatch_parts"]'
			grep '^exactness' r.txt; cat r.err; } | sed 's/^/# /'
	fi

	# one arena_free left out: the model's release of that arena is unmatched
	n=$((frees / 2 + 1))
	"$DROP" t.atr d.atr "$n" >drop.out 2>&1
	"$AT" replay --json d.atr >d.json 2>/dev/null
	"$AT" replay d.atr >d.txt 2>/dev/null
	if [ "$(json d.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], m["arena_mismatch_parts"]')" = "(0, 1, {'freed_held': 0, 'released_kept': 1, 'recorded_unused': 0, 'unrecorded': 0})" ] &&
		grep -q "^exactness: cpython-$v: 0 addresses unlike the interpreter's, 1 arena mismatches: 0 freed by the interpreter, not by the model with it; 1 released by the model, not by the interpreter with it; 0 recorded, never the model's; 0 placed by the model, unrecorded\$" d.txt; then
		ok "python $v: without arena_free $n of $frees, exactly 1 arena mismatch, the model's release"
	else
		not_ok "python $v: without arena_free $n of $frees, exactly 1 arena mismatch"
		{ cat drop.out; json d.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], m["arena_mismatch_parts"]'
			grep '^exactness' d.txt; } | sed 's/^/# /'
	fi

	# a model of another version: not compared, null
	case $v in 3.8) other=3.9 ;; *) other=3.8 ;; esac
	"$AT" replay --json --model "cpython-$other" t.atr >o.json 2>/dev/null
	"$AT" replay --model "cpython-$other" t.atr >o.txt 2>o.err
	if [ "$(json o.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], m["arena_mismatch_parts"]')" = "(None, None, None)" ] &&
		grep -q "^exactness: cpython-$other: not compared: not the recorded interpreter's profile (CPython $v\.[0-9]*)\$" o.txt &&
		grep -q "addresses not compared" o.err; then
		ok "python $v: --model cpython-$other is not compared: null in --json, said in the summary"
	else
		not_ok "python $v: --model cpython-$other is not compared"
		{ json o.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"]'
			grep '^exactness' o.txt; cat o.err; } | sed 's/^/# /'
	fi

	# pymalloc not serving the interpreter: not compared, null
	record m.atr "$py" PYTHONMALLOC=malloc
	"$AT" replay --json m.atr >m.json 2>/dev/null
	"$AT" replay m.atr >m.txt 2>/dev/null
	if [ "$(json m.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], m["not_compared"]')" = "(None, None, 'malloc served the interpreter, not pymalloc')" ] &&
		grep -qx "exactness: not compared: malloc served the interpreter, not pymalloc" m.txt; then
		ok "python $v: PYTHONMALLOC=malloc is not compared: null in --json, said in the summary"
	else
		not_ok "python $v: PYTHONMALLOC=malloc is not compared"
		{ json m.json 'm["addresses_unlike_interpreter"], m["arena_mismatches"], m["not_compared"]'
			grep '^exactness' m.txt; } | sed 's/^/# /'
	fi
done
echo "# CPython versions that ran:${ran:- none}"
check "at least one CPython 3.8+ ran" test -n "$ran"

# the tracer's dropped events (libearly.so's constructor calls before
# tracing starts, as tests/e2e/test_tracer.sh): their own field and line
if [ -n "$first" ]; then
	record e.atr "$first" LD_PRELOAD="$LIBEARLY"
	"$AT" info --json e.atr >e-info.json 2>/dev/null
	"$AT" replay --json e.atr >e.json 2>/dev/null
	"$AT" replay e.atr >e.txt 2>/dev/null
	d=$(json e-info.json 'j["dropped"]')
	if [ "${d:-0}" -ge 10 ] && [ "$(json e.json 'j["dropped"]')" = "$d" ] &&
		grep -qx "dropped: $d events the tracer could not record, which the replay lacks" e.txt; then
		ok "the trace's $d dropped events: replay --json's dropped, and a line of the summary"
	else
		not_ok "the trace's dropped events (info says ${d:-none}) in replay --json and the summary"
		{ json e.json 'j.get("dropped")'; grep '^dropped' e.txt; } | sed 's/^/# /'
	fi
fi
done_testing
