#!/bin/sh
# End-to-end: the pymalloc model against real CPython.  Each program of
# tests/python is recorded under every CPython 3.8+ on this machine, then
# `arenatrace replay --check-snapshots` compares the model with the real
# allocator's statistics at every snapshot, and every address the model
# hands out with the interpreter's.  Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "the pymalloc model against real CPython"
AT=$(realpath "$AT")
PYDIR=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	for prog in churn bigfree cycles growth threads framechunk; do
		rm -f t.atr
		(cd "$PYDIR" && "$AT" record -o "$TMP/t.atr" -- "$py" "$prog.py") >/dev/null 2>&1
		if replay_exact t.atr; then
			ok "python $v $prog.py: $(tail -n 1 out.txt), every address as the interpreter's"
		else
			not_ok "python $v ($py) $prog.py: $(tail -n 1 out.txt)"
			head -20 out.txt err.txt | sed 's/^/# /'
		fi
	done
	ran="$ran $v"
done
echo "# CPython versions that ran:${ran:- none}"
check "at least one CPython 3.8+ ran" test -n "$ran"

# the statistics of a replay are CPython's layout for the chosen profile
if [ -n "$ran" ]; then
	"$AT" replay --model cpython-3.8 --stats t.atr >stats.txt 2>/dev/null
	check "replay --stats prints the _debugmallocstats layout" \
		sh -c 'head -n 1 stats.txt | grep -qx "Small block threshold = 512, in 32 size classes." &&
			grep -q "^# arenas allocated current         = " stats.txt &&
			grep -q " arenas \* 262144 bytes/arena " stats.txt'
	check "replay --model: an unknown profile is bad usage" \
		sh -c "'$AT' replay --model cpython-2.7 t.atr >/dev/null 2>&1; test \$? -eq 2"
	check "replay --check-snapshots: a trace without snapshots fails the check" \
		sh -c "'$AT' record -o nosnap.atr -- true >/dev/null 2>&1; '$AT' replay --check-snapshots nosnap.atr >/dev/null 2>&1; test \$? -eq 1"
fi
done_testing
