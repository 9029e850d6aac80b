#!/bin/sh
# End-to-end: a frame that zstd accepts but whose records do not hold
# together is corrupt (FORMAT.md §1.1), and nothing of it may reach the
# model.  A deterministic set of traces, each with one frame's content
# damaged and compressed again (tests/tools/atr-mutate.c): the reader hands
# out exactly the records of the frames before the one it rejects, and
# when replay or report fail on such a trace, their one line of error is
# all they print: no "returned X where the interpreter got Y" from records
# of the rejected frame, nothing but what a replay of the good frames
# alone prints.  ARENATRACE_LONG=1 (make test-all) runs five times as many.
. "$(dirname "$0")/lib.sh"
AT=$(realpath "$AT")
MUTATE=$(realpath "$B/atr-mutate")
WORKLOADS=$(realpath "$(dirname "$0")/../../traces/workloads")
cd "$TMP" || exit 1

# Python-layer traces (every address the model hands out is compared with
# the recorded one) of three and four frames
"$AT" simulate -o churn.atr "$WORKLOADS/churn.wl" >/dev/null
"$AT" simulate -o pin.atr "$WORKLOADS/pin.wl" >/dev/null
check "the traces read whole, with no address unlike the interpreter's" sh -c '
	for t in churn pin; do
		"$1" replay $t.atr >/dev/null 2>err.txt || exit 1
		grep -q " 0 addresses unlike the interpreter" err.txt || exit 1
	done' sh "$AT"

n=60
[ "${ARENATRACE_LONG:-}" = 1 ] && n=200
rejected=0 leaked=0 polluted=0
for seed in $(seq 1 $n); do
	t=churn
	[ $((seed % 3)) -eq 0 ] && t=pin
	"$MUTATE" mutate $t.atr m.atr "$seed" >/dev/null || continue
	"$MUTATE" check m.atr >check.txt
	rc=$?
	case $(cat check.txt) in rejected*) ;; *) continue ;; esac
	rejected=$((rejected + 1))
	if [ $rc -ne 0 ]; then
		leaked=$((leaked + 1))
		echo "# seed $seed: $(cat check.txt)"
	fi
	at=$(sed -n 's/^rejected frame [0-9]* at byte \([0-9]*\):.*/\1/p' check.txt)
	# what the frames before the rejected one give a replay on their own
	head -c "$at" m.atr >good.atr
	: >good.txt
	if [ "$at" -gt 0 ]; then
		"$AT" replay good.atr >/dev/null 2>good.err
		grep "where the interpreter got" good.err >good.txt
	fi
	cmd=replay
	[ $((seed % 4)) -eq 0 ] && cmd=report
	"$AT" $cmd -o r$seed m.atr >/dev/null 2>err.txt
	rc=$?
	sed '$d' err.txt >before.txt
	if [ $rc -ne 2 ] || ! tail -n 1 err.txt | grep -q "^arenatrace: " || ! cmp -s before.txt good.txt ||
		[ -e r$seed ]; then
		polluted=$((polluted + 1))
		echo "# seed $seed: $cmd exit $rc, $(wc -l <err.txt) lines on stderr:"
		head -n 5 err.txt | sed 's/^/#   /'
	fi
done
check "$rejected of $n damaged traces have a frame the reader rejects (at least a third)" \
	test $((rejected * 3)) -ge $n
check "the reader hands out no record of a rejected frame ($leaked of $rejected did)" test $leaked -eq 0
check "replay and report of those print one error and what the good frames give ($polluted did not)" \
	test $polluted -eq 0
done_testing
