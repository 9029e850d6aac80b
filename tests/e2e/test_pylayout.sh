#!/bin/sh
# test_pylayout.sh - the tracer reads Python frames at fixed offsets into
# CPython's private structures (tracer/tr_pylayout.h).  For every CPython
# 3.8+ on the machine whose headers are installed, a probe compiled
# against those headers (tests/tools/pylayout_probe.c) must print exactly
# what the tracer's table holds for that version.
. "$(dirname "$0")/lib.sh"
PRINT="$B/pylayout-print"
ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
	if [ ! -f "$inc/Python.h" ]; then
		skip "layout of $v ($py)" "no headers"
		continue
	fi
	minor=${v#3.}
	if ! cc -I"$inc" tests/tools/pylayout_probe.c -o "$TMP/probe" 2>"$TMP/cc.err"; then
		not_ok "probe compiles against $v's headers: $(head -c 300 "$TMP/cc.err")"
		continue
	fi
	if ! "$TMP/probe" >"$TMP/want" 2>"$TMP/probe.err"; then
		not_ok "$v: the string state's bits are where the tracer reads them ($(cat "$TMP/probe.err"))"
		continue
	fi
	if ! "$PRINT" "$minor" >"$TMP/have"; then
		not_ok "the tracer has a layout for $v"
		continue
	fi
	sort "$TMP/want" >"$TMP/want.s"
	sort "$TMP/have" >"$TMP/have.s"
	if cmp -s "$TMP/want.s" "$TMP/have.s"; then
		ok "layout of $v ($py) matches its headers"
		ran="$ran $v"
	else
		not_ok "layout of $v ($py): $(diff "$TMP/want.s" "$TMP/have.s" | tr '\n' ' ' | head -c 400)"
	fi
done
if [ -n "$ran" ]; then ok "layouts checked for:$ran"; else not_ok "no CPython 3.8+ with headers to check"; fi
done_testing
