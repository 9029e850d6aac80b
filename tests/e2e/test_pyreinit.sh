#!/bin/sh
# test_pyreinit.sh - a program that embeds CPython and initialises it three
# times in one process (tests/tools/pyreinit.c: Py_Initialize, Python work
# over several arenas with a part left alive, a snapshot, Py_FinalizeEx),
# compiled against every pyenv CPython 3.8+ with its python3-config.  Under
# the tracer: its output and exit status are those of the untraced run;
# every round's requests are recorded (as many as the first round's, with
# arenas, GC passes, py_finalize and a snapshot each, the second and third
# after a py_init record); and replay is exact (every address and arena as
# the interpreter's, every snapshot checked), the model going on with its
# state (3.8-3.11, 3.13) or starting afresh as 3.12's pymalloc does.  Then,
# with PYTHONMALLOC=malloc from the start, replay says not compared, never
# a wrong 0.
. "$(dirname "$0")/lib.sh"
skip_under_asan "embedded CPython initialised three times"
AT=$(realpath "$AT")
SRC=$(realpath "$(dirname "$0")/../tools/pyreinit.c")
ran=""
cd "$TMP" || exit 1
if command -v pyenv >/dev/null 2>&1; then
	configs=$(ls "$(pyenv root)"/versions/*/bin/python3-config 2>/dev/null)
else
	configs=""
fi
for pc in $configs; do
	prefix=$("$pc" --prefix 2>/dev/null)
	v=$(cpython_version "$prefix/bin/python3")
	[ -n "$v" ] || continue # before 3.8
	if ! ls "$prefix"/lib/libpython3*.so* >/dev/null 2>&1; then
		skip "CPython $v initialised three times" "not a shared-library build"
		continue
	fi
	prog=$TMP/pyreinit-$v
	# shellcheck disable=SC2046 # the flags are words
	if ! cc -o "$prog" $("$pc" --includes) "$SRC" \
		$("$pc" --ldflags --embed) -Wl,-rpath,"$prefix/lib" 2>"$TMP/cc.err"; then
		not_ok "pyreinit compiles against CPython $v: $(head -c 300 "$TMP/cc.err")"
		continue
	fi
	# untraced, then traced: the same output and status
	limited 300 "$prog" >plain.out 2>plain.err
	rc0=$?
	rm -f "reinit-$v.atr"
	limited 300 "$AT" record -o "reinit-$v.atr" -- "$prog" >traced.out 2>traced.err
	rc1=$?
	strip_record_table traced.err traced.prog.err
	if [ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ] && [ "$(wc -l <plain.out)" -eq 3 ] &&
		cmp -s plain.out traced.out && cmp -s plain.err traced.prog.err; then
		ok "$v: three rounds, output and status unchanged by tracing"
	else
		not_ok "$v: untraced status $rc0, traced $rc1; output: $(diff plain.out traced.out |
			head -c 200); stderr: $(diff plain.err traced.prog.err | head -c 300)"
		continue
	fi
	# each round's records, split at the py_init records
	"$AT" dump "reinit-$v.atr" | awk '
		BEGIN { r = 0 }
		BEGIN { r = 0 }
		$4 == "py_init" { r++; inits = inits " " $5 }
		$4 ~ /^py_(mem|obj)_/ { req[r]++ }
		$4 == "arena_alloc" { ar[r]++ }
		$4 == "gc_start" { gc[r]++ }
		$4 == "py_finalize" { fin[r]++ }
		$4 == "snapshot" { snap[r]++ }
		END {
			printf "inits%s\n", inits
			for (i = 0; i <= r; i++)
				printf "round %d: %d requests, %d arenas, %d gc, %d finalize, %d snapshots\n",
					i + 1, req[i], ar[i], gc[i], fin[i], snap[i]
		}' >rounds.txt
	sed "s/^/# $v /" rounds.txt
	if awk '
		NR == 1 { inits = ($0 == "inits number=2 number=3") }
		NR > 1 { n++ # round N: $3 requests, $5 arenas, $7 gc, $9 finalize, $11 snapshots
			if (n == 1) { first = $3; if ($5 < 3) bad = 1 }
			if ($3 < first * 0.9 || $7 < 1 || $9 != 1 || $11 != 1) bad = 1 }
		END { exit !(inits && n == 3 && first > 100000 && !bad) }' rounds.txt; then
		ok "$v: every round recorded: $(sed -n 's/^round \([0-9]\): \([0-9]*\) requests.*/\2/p' rounds.txt |
			tr '\n' ' ')requests, each with GC passes, py_finalize and a snapshot"
	else
		not_ok "$v: rounds recorded: $(tr '\n' ';' <rounds.txt)"
	fi
	# replay: exact, or not compared with the reason
	"$AT" replay --check-snapshots "reinit-$v.atr" >out.txt 2>err.txt
	rrc=$?
	"$AT" replay --json "reinit-$v.atr" >json.txt 2>/dev/null
	if [ "$rrc" -eq 0 ] && replay_exact "reinit-$v.atr" &&
		grep -q '^snapshots: 3 checked, 0 mismatched$' out.txt &&
		grep -q '"addresses_unlike_interpreter": 0, "arena_mismatches": 0,' json.txt; then
		ok "$v: replay exact across three initialisations: $(sed -n 's/^replay: //p' err.txt | head -c 200); snapshots 3 checked"
	else
		not_ok "$v: replay (status $rrc): $(head -c 300 err.txt) $(grep snapshots out.txt)"
	fi
	rm -f "reinit-$v.atr"
	ran="$ran $v"
	# PYTHONMALLOC=malloc from the second round on: CPython 3.12+ reads it
	# at each Py_Initialize (before, the new allocator frees the blocks of
	# the first round, and CPython aborts, traced or not)
	case $v in 3.8 | 3.9 | 3.10 | 3.11) continue ;; esac
	limited 300 "$prog" 3 malloc >plain.out 2>plain.err
	rc0=$?
	rm -f "malloc-$v.atr"
	limited 300 "$AT" record -o "malloc-$v.atr" -- "$prog" 3 malloc >traced.out 2>traced.err
	rc1=$?
	strip_record_table traced.err traced.prog.err
	"$AT" dump "malloc-$v.atr" | awk '$4 == "py_init" { r++; print $5, $6 } $4 ~ /^py_(mem|obj)_/ { n[r + 0]++ }
		END { print n[0] > "/dev/stderr"; print n[1] > "/dev/stderr"; print n[2] > "/dev/stderr" }' \
		>inits.txt 2>counts.txt
	"$AT" replay --check-snapshots "malloc-$v.atr" >out.txt 2>err.txt
	rrc=$?
	"$AT" replay --json "malloc-$v.atr" >json.txt 2>/dev/null
	why='malloc served the interpreter from its initialisation 2 on (after request [1-9][0-9]*)'
	if [ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ] && cmp -s plain.out traced.out &&
		cmp -s plain.err traced.prog.err &&
		[ "$(tr '\n' ' ' <inits.txt)" = 'number=2 allocator="malloc" number=3 allocator="malloc" ' ] &&
		[ "$(awk '$1 > 100000' counts.txt | wc -l)" -eq 3 ] && [ "$rrc" -eq 0 ] &&
		grep -q "addresses not compared: $why, 0 anomalies" err.txt &&
		grep -q "^snapshots: 1 checked, 0 mismatched; 2 not checked: $why" out.txt &&
		grep -q "\"addresses_unlike_interpreter\": null, \"arena_mismatches\": null, \"arena_mismatch_parts\": null, \"not_compared\": \"$why\"" json.txt; then
		ok "$v: malloc from the second initialisation on: every round recorded ($(tr '\n' ' ' <counts.txt)requests), replay not compared from there, never a wrong 0"
	else
		not_ok "$v: malloc from the second initialisation: status $rc0/$rc1/$rrc; $(tr '\n' ' ' <inits.txt); $(tr '\n' ' ' <counts.txt); $(head -c 300 err.txt); $(grep snapshots out.txt)"
	fi
	rm -f "malloc-$v.atr"
done
if [ -n "$ran" ]; then ok "ran for:$ran"; else skip "embedded CPython initialised three times" "no pyenv CPython 3.8+ with python3-config"; fi
done_testing
