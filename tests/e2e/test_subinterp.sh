#!/bin/sh
# End-to-end: subinterpreters (tests/python/subinterps.py: six created and
# destroyed, four of them on two other threads, each needing several arenas,
# beside the main interpreter's own work) under every CPython 3.8+ on this
# machine.  The program's output and status are as untraced.  From 3.12 the
# subinterpreters are isolated, each with an obmalloc state of its own: the
# trace's heap records name six heaps, and the replay (each heap through
# models of its own) has every address and arena as the interpreter's and
# the main interpreter's snapshots match.  Before 3.12, and with legacy
# subinterpreters on 3.12+, there is one heap and the replay is exact as
# ever.  Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "subinterpreters under the tracer"
AT=$(realpath "$AT")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1

json() { # json FILE EXPR: EXPR of the JSON in FILE (j the object, m its first model)
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1])); m = j["models"][0] if "models" in j else None
print(eval(sys.argv[2]))' "$1" "$2"
}

# one PY VERSION MODE: records subinterps.py MODE ("" or legacy) and checks it;
# HEAPS is how many heaps other than the main one its replay must find
one() {
	_py=$1 _v=$2 _mode=$3 _heaps=$4
	_what="python $_v${_mode:+ ($_mode)}"
	(cd "$PYDIR" && "$_py" subinterps.py $_mode) >plain.out 2>plain.err
	_st=$?
	rm -f t.atr
	(cd "$PYDIR" && "$AT" record -o "$TMP/t.atr" -- "$_py" subinterps.py $_mode) >traced.out 2>traced.err
	_tst=$?
	strip_record_table traced.err traced.prog.err
	if [ "$_st" -eq 0 ] && [ "$_tst" -eq 0 ] && cmp -s plain.out traced.out &&
		cmp -s plain.err traced.prog.err; then
		ok "$_what: output and status as untraced"
	else
		not_ok "$_what: output and status as untraced (status $_st, traced $_tst)"
		{ diff plain.out traced.out; head -5 traced.err; } | sed 's/^/# /'
		return
	fi
	"$AT" info --json t.atr >i.json 2>/dev/null
	_recs=$(json i.json 'j["python"]["heap_records"]')
	# at least one on each of the three threads that ran a subinterpreter
	# (a thread's next one may get a state at the same address: no record)
	if { [ "$_heaps" -eq 0 ] && [ "$_recs" = 0 ]; } || { [ "$_heaps" -gt 0 ] && [ "${_recs:-0}" -ge 3 ]; }; then
		ok "$_what: $_recs heap records"
	else
		not_ok "$_what: heap records (info says ${_recs:-none})"
	fi
	"$AT" replay --json t.atr >r.json 2>/dev/null
	_got=$(json r.json 'j["other_heaps"]["states"], m["addresses_unlike_interpreter"], m["arena_mismatches"], sum(j["anomalies"].values())')
	_n=$(json r.json 'j["requests"] + j["other_heaps"]["requests"]')
	_sub=$(json r.json 'j["other_heaps"]["requests"]')
	_arenas=$(json r.json 'j["other_heaps"]["arenas"]')
	if [ "$_got" = "($_heaps, 0, 0, 0)" ] && { [ "$_heaps" -eq 0 ] || [ "$_arenas" -ge $((2 * _heaps)) ]; }; then
		ok "$_what: $_n requests, $_sub of them in $_heaps subinterpreters' own heaps ($_arenas arenas): every address and arena as the interpreter's"
	else
		not_ok "$_what: $_heaps heaps of their own and the replay exact (heaps, unlike, arena mismatches, anomalies: $_got; their arenas $_arenas)"
		json r.json 'j["other_heaps"], m["arena_mismatch_parts"], j["anomalies"]' | sed 's/^/# /'
	fi
	if replay_exact t.atr && grep -qx "snapshots: 3 checked, 0 mismatched" out.txt; then
		ok "$_what: replay --check-snapshots exact, the main interpreter's 3 snapshots match"
	else
		not_ok "$_what: replay --check-snapshots exact, 3 snapshots match"
		{ cat err.txt; tail -3 out.txt; } | sed 's/^/# /'
	fi
}

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	case " $ran " in *" $v "*) continue ;; esac # one interpreter a version
	if ! "$py" -c 'import _xxsubinterpreters' 2>/dev/null && ! "$py" -c 'import _interpreters' 2>/dev/null; then
		skip "python $v: subinterpreters" "no _xxsubinterpreters nor _interpreters"
		continue
	fi
	ran="$ran $v"
	case $v in
	3.8 | 3.9 | 3.10 | 3.11) one "$py" "$v" "" 0 ;;
	*)
		one "$py" "$v" "" 6
		one "$py" "$v" legacy 0
		;;
	esac
done
echo "# CPython versions that ran:${ran:- none}"
check "at least one CPython 3.8+ ran" test -n "$ran"
done_testing
