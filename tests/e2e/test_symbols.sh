#!/bin/sh
# End-to-end: the replay summary's pinning stacks symbolized from the
# modules a real recorded program loaded (tests/progs/symprog.cc, a C++
# program whose allocating function is an always-inline one inside a
# namespaced template): demangled names, file:line, the inlined frame;
# without debug info the symbol or module+offset; a stripped binary with
# its debug info found through --debug-dir; a binary rebuilt or removed
# after recording said so, and shown as module+offset.
. "$(dirname "$0")/lib.sh"
skip_under_asan "programs recorded under the tracer"
AT=$(realpath "$AT")
P=$(realpath "$B/tests/progs")
SRC=$(realpath tests/progs/symprog.cc)
cd "$TMP" || exit 1

inl_line=$(grep -n 'SYMPROG-INLINED-LINE' "$SRC" | cut -d: -f1)
call_line=$(grep -n 'SYMPROG-CALL-LINE' "$SRC" | cut -d: -f1)
BOX='ns::Box<std::pair<int, char>&>::make(unsigned long)'

# has FILE TEXT: FILE holds the line TEXT, the summary's frame indentation
# and spacing ignored (a fixed string, not a pattern)
has() { sed 's/^ *//' "$1" | grep -qxF "$2"; }

# record NAME BINARY: records BINARY (run by the name NAME, a copy in the
# test directory) to NAME.atr and replays it to NAME.out / NAME.err
record() {
	cp "$2" "./$1"
	"$AT" record -o "$1.atr" -- "./$1" >/dev/null 2>&1
}
replay() {
	f=$1
	shift
	"$AT" replay "$@" "$f.atr" >"$f.out" 2>"$f.err"
}

# -g -O2: the inlined frame first, then the template at its call line, then main
record symprog "$P/symprog"
replay symprog
check "the allocating frame is the inlined function at its line" \
	has symprog.out "ns::grab at symprog.cc:$inl_line (inlined)"
check "then the demangled template at the line grab was inlined from" \
	has symprog.out "$BOX at symprog.cc:$call_line"
check "then main, at a line of symprog.cc" grep -q '^ *main at symprog\.cc:[0-9][0-9]*$' symprog.out
check "the symbolized stack follows its summary line" \
	sh -c "grep -A1 ' s  stack [0-9]*\$' symprog.out | grep -q 'ns::grab at'"
check "no warning for a program that is where it was recorded" \
	sh -c "! grep -q 'symbols:.*symprog' symprog.err"
"$AT" replay --json symprog.atr >symprog.json 2>/dev/null
check "--json keeps the raw hex frames" \
	grep -q '"frames": \["0x[0-9a-f]*"' symprog.json
check "--json symbolizes them: the inlined frame, then the template at its call line" \
	grep -qF "\"symbols\": [\"ns::grab at symprog.cc:$inl_line (inlined)\", \"$BOX at symprog.cc:$call_line\"" \
	symprog.json

"$AT" dump --symbolize symprog.atr >symprog.dump 2>symprog.dump.err
check "dump --symbolize: the leaf's stack record names the inlined and the outer frame" \
	grep -qF "sym=\"ns::grab at symprog.cc:$inl_line (inlined); $BOX at symprog.cc:$call_line\"" \
	symprog.dump
"$AT" dump symprog.atr >plain.dump 2>/dev/null
check "dump without --symbolize: no sym fields" sh -c "! grep -q ' sym=' plain.dump"

# -g0: ELF symbols name the functions, no file:line, the inlined frame unknown
record symprog-g0 "$P/symprog-g0"
replay symprog-g0
check "without debug info: the symbol and module+offset" \
	grep -qF "$BOX (symprog-g0+0x" symprog-g0.out
check "without debug info: no file:line in the program's frames" \
	sh -c "! grep -q 'symprog\.cc' symprog-g0.out"

# stripped: module+offset; its debug info in a --debug-dir by build-id
if command -v strip >/dev/null 2>&1 && command -v objcopy >/dev/null 2>&1; then
	strip -o stripped.bin "$P/symprog"
	record stripped stripped.bin
	replay stripped
	check "stripped: the program's frames are module+offset" \
		grep -q '^ *stripped+0x[0-9a-f]*$' stripped.out
	check "stripped: no function of the program named" sh -c "! grep -q 'ns::' stripped.out"
	bid=$(readelf -n "$P/symprog" 2>/dev/null | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
	if [ -n "$bid" ]; then
		d=$(echo "$bid" | cut -c1-2) rest=$(echo "$bid" | cut -c3-)
		mkdir -p "dbg/.build-id/$d"
		objcopy --only-keep-debug "$P/symprog" "dbg/.build-id/$d/$rest.debug"
		replay stripped --debug-dir dbg
		check "--debug-dir: a stripped program's debug info found by build-id" \
			has stripped.out "ns::grab at symprog.cc:$inl_line (inlined)"
		check "--debug-dir: and the template at its line" \
			has stripped.out "$BOX at symprog.cc:$call_line"
	else
		skip "--debug-dir" "readelf not installed"
		skip "--debug-dir: the template" "readelf not installed"
	fi
else
	skip "stripped" "binutils (strip, objcopy) not installed"
	skip "stripped: no function" "binutils not installed"
	skip "--debug-dir" "binutils not installed"
	skip "--debug-dir: the template" "binutils not installed"
fi

# rebuilt after recording: another build-id
record victim "$P/symprog"
cp "$P/symprog-alt" victim
replay victim
check "a rebuilt module is said to differ, once" \
	test "$(grep -c "^arenatrace: symbols: .*/victim: its build-id differs" victim.err)" -eq 1
check "a rebuilt module's frames are module+offset" grep -q '^ *victim+0x[0-9a-f]*$' victim.out
check "a rebuilt module's functions are not named from the new file" \
	sh -c "! grep -q 'ns::' victim.out"

# removed after recording
rm victim
replay victim
check "a missing module is said to be missing" \
	grep -q "^arenatrace: symbols: .*/victim: cannot open it" victim.err
check "a missing module's frames are module+offset" grep -q '^ *victim+0x[0-9a-f]*$' victim.out
"$AT" replay victim.atr >/dev/null 2>&1
rc=$?
check "the replay of a trace whose module is gone still succeeds" test "$rc" -eq 0

done_testing
