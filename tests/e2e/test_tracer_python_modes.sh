#!/bin/sh
# End-to-end: CPython's allocator modes under the tracer, for every CPython
# 3.8+ on this machine.  Dev mode (-X dev, PYTHONDEVMODE=1) and each
# PYTHONMALLOC value: exit status, stdout and stderr as without the tracer,
# and the trace names the allocator that served the interpreter.  The
# Python layer is recorded in every mode; under pymalloc and pymalloc_debug
# (where the tracer sits between CPython's debug hooks and pymalloc) a
# replay of churn.py finds every address as the interpreter's and every
# snapshot equal, under malloc it says that addresses are not compared.
# Last, CPython's own fork and dev-mode tests, traced, end as untraced.
# Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "CPython's allocator modes under the tracer"
AT=$(realpath "$AT")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1

# prints what the modes change: dev mode's warnings on stderr, pymalloc's
# block count (0 under malloc)
cat >modes.py <<'PY'
import sys, threading
f = open(__file__)  # not closed: a ResourceWarning in dev mode
del f
blocks = [[i] * (i % 50) for i in range(20000)]
t = threading.Thread(target=lambda: [str(i) for i in range(5000)])
t.start(); t.join()
print(sys.flags.dev_mode, sys.getallocatedblocks() > 0, len(blocks))
print("stderr line", file=sys.stderr)
sys.exit(3)
PY

# a forked child writes its own trace, which must name the allocator too
cat >fork.py <<'PY'
import os
keep = [str(i) for i in range(1000)]
pid = os.fork()
if pid == 0:
    more = [[i] for i in range(30000)]
    os._exit(0)
os.waitpid(pid, 0)
PY

# run_pair TAG ENV ARGS...: the program with ENV (a VAR=VALUE or "-")
# untraced and under the tracer (into m.atr): the same exit status, stdout
# and stderr (the launcher's closing table aside)
run_pair() {
	rp_tag=$1 rp_env=$2
	shift 2
	[ "$rp_env" = - ] && rp_env=ARENATRACE_UNUSED=1
	env "$rp_env" "$py" "$@" >p.out 2>p.err
	prc=$?
	rm -f m.atr
	env "$rp_env" "$AT" record -o m.atr -- "$py" "$@" >t.out 2>t.raw
	trc=$?
	strip_record_table t.raw t.err
	if [ "$prc" -eq "$trc" ] && cmp -s p.out t.out && cmp -s p.err t.err; then
		ok "$rp_tag: status $trc, stdout and stderr as untraced"
	else
		not_ok "$rp_tag: status $trc (untraced $prc), or its output differs"
		diff p.out t.out | head -5 | sed 's/^/# out: /'
		diff p.err t.err | head -5 | sed 's/^/# err: /'
	fi
}

# the allocator the trace names, and the Python-layer requests recorded
info_of() {
	"$AT" info --json "$1" | python3 -c 'import json, sys
p = json.load(sys.stdin)["python"]
print(p["allocator"], sum(p["obj"].values()) + sum(p["mem"].values()))' 2>/dev/null
}

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	# each mode: how it is asked for, and the allocator CPython then names
	for m in "-X dev:pymalloc_debug" "PYTHONDEVMODE=1:pymalloc_debug" \
		"PYTHONMALLOC=debug:pymalloc_debug" "PYTHONMALLOC=pymalloc_debug:pymalloc_debug" \
		"PYTHONMALLOC=malloc_debug:malloc_debug" "PYTHONMALLOC=pymalloc:pymalloc" \
		"PYTHONMALLOC=malloc:malloc" "default:pymalloc"; do
		how=${m%:*} want=${m##*:} e=${m%:*} x=
		[ "$how" = "-X dev" ] && e=- x="-X dev"
		[ "$how" = default ] && e=-
		tag="python $v ($py) $how"
		# shellcheck disable=SC2086
		[ -n "$x" ] && run_pair "$tag -c pass" "$e" $x -c pass
		# shellcheck disable=SC2086
		run_pair "$tag modes.py" "$e" $x modes.py
		got=$(info_of m.atr)
		if [ "${got% *}" = "$want" ] && [ "${got#* }" -gt 20000 ]; then
			ok "$tag: the trace names $want, ${got#* } Python-layer requests"
		else
			not_ok "$tag: the trace names $want and has Python-layer requests (got: $got)"
		fi
		[ "$how" = PYTHONMALLOC=malloc ] || continue
		# malloc served the interpreter: no pymalloc address to compare
		"$AT" replay m.atr >out.txt 2>err.txt
		rc=$?
		"$AT" replay --json m.atr 2>/dev/null | python3 -c 'import json, sys
j = json.load(sys.stdin)
assert j["requests"] > 20000, j["requests"]
assert all(m["addresses_unlike_interpreter"] is None for m in j["models"])' 2>json.err
		jrc=$?
		if [ $rc -eq 0 ] && [ $jrc -eq 0 ] && grep -q 'addresses not compared' err.txt &&
			! grep -q 'addresses unlike' err.txt; then
			ok "$tag: $(head -n 1 err.txt | sed 's/^replay: //')"
		else
			not_ok "$tag: the replay says that addresses are not compared"
			head -5 err.txt json.err | sed 's/^/# /'
		fi
	done
	rm -rf fk && mkdir fk
	PYTHONMALLOC=malloc "$AT" record -o fk/t.atr -- "$py" fork.py >/dev/null 2>&1
	child=$(ls fk/t.*.atr 2>/dev/null)
	got=$( [ -n "$child" ] && info_of "$child")
	if [ "${got% *}" = malloc ] && [ "${got#* }" -gt 30000 ] &&
		"$AT" replay "$child" 2>&1 >/dev/null | grep -q 'addresses not compared'; then
		ok "python $v PYTHONMALLOC=malloc fork.py: the child's trace names malloc too"
	else
		not_ok "python $v ($py) PYTHONMALLOC=malloc fork.py: the child's trace names malloc (got: $got)"
	fi
	# exactness: the model sees what pymalloc saw, debug hooks or not
	for e in PYTHONMALLOC=pymalloc PYTHONMALLOC=pymalloc_debug; do
		rm -f c.atr
		(cd "$PYDIR" && env "$e" PYTHONDONTWRITEBYTECODE=1 "$AT" record -o "$TMP/c.atr" -- "$py" churn.py) >/dev/null 2>&1
		if replay_exact c.atr && grep -qx 'snapshots: 6 checked, 0 mismatched' out.txt &&
			! grep -q ' 0 requests' err.txt; then
			ok "python $v $e churn.py: $(head -n 1 err.txt | sed 's/^replay: //')"
		else
			not_ok "python $v ($py) $e churn.py: $(tail -n 1 out.txt)"
			head -5 out.txt err.txt | sed 's/^/# /'
		fi
	done
	ran="$ran $v"
done
echo "# CPython versions that ran:${ran:- none}"
check "at least one CPython 3.8+ ran" test -n "$ran"

# CPython's own tests that run children in dev mode, traced as untraced
# (their children are traced too), where the untraced run passes (3.8's
# test_os has no test_fork; the system python3 may lack the tests)
tests_ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	case "$v" in 3.8 | 3.11 | 3.13) ;; *) continue ;; esac
	for t in "test_os -m test_fork" "test_asyncio.test_tasks -m test_env_var_debug"; do
		rm -rf cpt && mkdir cpt
		# shellcheck disable=SC2086
		TMPDIR="$TMP/cpt" "$py" -m test $t >p.out 2>&1
		prc=$?
		res_p=$(grep -E '^(Tests result|Result):' p.out)
		case "$prc $res_p" in
		"0 "*SUCCESS) ;;
		*) skip "python $v ($py) -m test $t" "untraced: status $prc, $res_p"; continue ;;
		esac
		# shellcheck disable=SC2086
		TMPDIR="$TMP/cpt" "$AT" record -o cpt/t.atr -- "$py" -m test $t >t.out 2>&1
		trc=$?
		res_t=$(grep -E '^(Tests result|Result):' t.out)
		if [ "$prc" -eq "$trc" ] && [ "$res_p" = "$res_t" ]; then
			ok "python $v -m test $t: status $trc, $res_t, as untraced"
			tests_ran="$tests_ran $v:${t%% *}"
		else
			not_ok "python $v ($py) -m test $t: status $trc ($res_t), untraced $prc ($res_p)"
			grep -E 'Fatal|Error|FAIL' t.out | head -5 | sed 's/^/# /'
		fi
	done
done
echo "# CPython regression tests passed traced under:${tests_ran:- none}"
done_testing
