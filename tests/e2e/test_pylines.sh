#!/bin/sh
# End-to-end: tf_pyline() against the real interpreters.  Every CPython
# 3.8+ on this machine runs tests/python/pylines_dump.py, which writes its
# own PyCode_Addr2Line at every instruction offset of every code object of
# some stdlib files and a generated source (and of their tables cut short
# and with a byte changed); atr-pylines decodes each offset from the raw
# table and must agree on all of them.  The same check with the wrong
# decoder must fail.  Says which versions ran and how many offsets.
. "$(dirname "$0")/lib.sh"
PYLINES=$(realpath "$B/atr-pylines")
DUMP=$(realpath "$(dirname "$0")/../python/pylines_dump.py")
cd "$TMP" || exit 1

ran="" total=0
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	case $v in
	3.8 | 3.9 | 3.10 | 3.11 | 3.12 | 3.13) ;;
	*)
		skip "python $v ($py)" "no line table format known for it"
		continue
		;;
	esac
	if ! "$py" "$DUMP" >dump.txt 2>dump.err; then
		not_ok "python $v ($py): pylines_dump.py failed: $(tail -n 1 dump.err)"
		continue
	fi
	dumped=$(sed -n 's/^pylines_dump: \([0-9]*\) offsets$/\1/p' dump.err)
	"$PYLINES" dump.txt >check.txt 2>&1
	rc=$?
	sum=$(tail -n 1 check.txt)
	checked=$(echo "$sum" | sed -n 's/.* \([0-9]*\) offsets, .*/\1/p')
	if [ "$rc" -eq 0 ] && [ -n "$checked" ] && [ "$checked" = "$dumped" ]; then
		ok "$py: ${sum#atr-pylines: }"
		total=$((total + checked))
		ran="$ran $v"
	else
		not_ok "python $v ($py): status $rc, $dumped offsets dumped: $sum"
		head -n 20 check.txt | sed 's/^/# /'
	fi
done
echo "# CPython versions that ran:${ran:- none}; $total offsets checked"
check "at least one CPython 3.8+ ran" test -n "$ran"

# the check can fail: the last dump read with another encoding's decoder
if [ -n "$ran" ]; then
	fmt=$(sed -n '1s/^pylines 1 \([0-9]\) .*/\1/p' dump.txt)
	wrong=$((fmt % 3 + 1))
	"$PYLINES" --as-format "$wrong" dump.txt >wrong.txt 2>&1
	rc=$?
	check "format $fmt's tables read as format $wrong: mismatches, status 1" \
		sh -c "test $rc -eq 1 && grep -q '^mismatch: ' wrong.txt &&
			tail -n 1 wrong.txt | grep -qv ' 0 mismatches'"
fi
done_testing
