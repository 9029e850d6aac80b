#!/bin/sh
# End-to-end: the Python frames the tracer records, for every CPython 3.8+
# on this machine (pyenv's interpreters and the system python3), read back
# from the trace with tests/tools/atr-pystacks.c (no replay, no report).
# tests/python/pystacks.py allocates at lines marked "# @NAME": in the main
# script and in a module it imports, on a second thread, in a generator, in
# a coroutine run by asyncio, in a sorted() key and a json object_hook
# called back from C, at the bottom of a 5,000-frame recursion and while an
# exception unwinds 100 frames.  Each must show its file, line and function
# innermost, with its callers after it in order (and native frames between
# a callback and the Python code that called into C); the deep stacks are
# cut at --depth.  Python frames only (--native-stacks off) give the same
# Python frames.  Says which versions ran.
. "$(dirname "$0")/lib.sh"
skip_under_asan "CPython under the tracer"
AT=$(realpath "$AT")
PYST=$(realpath "$B/atr-pystacks")
SRC=$(realpath tests/python)
cd "$TMP" || exit 1
cp "$SRC/pystacks.py" "$SRC/pystacks_lib.py" "$SRC/pysubinterp.py" "$SRC/pyreuse.py" .

at() { echo "$1:$(grep -n "# @$2\$" "$1" | cut -d: -f1)"; } # FILE:LINE of a marker
MAIN=$(at pystacks.py main) LIB=$(at pystacks_lib.py lib_table)
THREAD=$(at pystacks.py thread) GEN=$(at pystacks.py gen) USE_GEN=$(at pystacks.py use_gen)
CORO=$(at pystacks.py coro) OUTER=$(at pystacks.py outer_coro)
KEY=$(at pystacks.py key) USE_SORTED=$(at pystacks.py use_sorted)
HOOK=$(at pystacks.py hook) USE_JSON=$(at pystacks.py use_json)
DEEP=$(at pystacks.py deep) FINALLY=$(at pystacks.py finally) EXCEPT=$(at pystacks.py except)
SUB=$(at pysubinterp.py sub) REUSE=$(at pyreuse.py reuse) CHILD=$(at pyreuse.py child)

# stack_of KIND SIZE [FILE]: the first stack of an event of SIZE bytes whose
# kind matches KIND (py: a request of the Python layer, bytearray's buffer;
# c: the malloc-layer call pymalloc passes it on as)
stack_of() {
	k=$1
	[ "$k" = py ] && k='py_(obj|mem)_[a-z]+'
	[ "$k" = c ] && k='(malloc|realloc)'
	grep -m1 -E "^$k $2 " "${3:-stacks.txt}"
}
# expect DESC LINE PATTERN: LINE matches the grep -E PATTERN
expect() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else not_ok "$1: got '$2'"; fi
}

ran=""
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	tag="python $v"
	"$py" pystacks.py >plain.out 2>&1
	rm -f py.atr py2.atr
	"$AT" record -o py.atr -- "$py" pystacks.py >traced.out 2>/dev/null
	st=$?
	if [ $st -ne 0 ] || ! cmp -s plain.out traced.out; then
		not_ok "$tag: runs as untraced under the tracer (status $st)"
		continue
	fi
	"$PYST" py.atr >stacks.txt || { not_ok "$tag: stacks read back"; continue; }
	# the Python layer's request and the malloc pymalloc passes it to
	for kind in py c; do
		expect "$tag: $kind in the main script" "$(stack_of $kind 70002)" \
			" 70002 tid=1 .*\| $MAIN:make_main \|( native[*0-9]* \|)? pystacks.py:[0-9]+:<module>"
	done
	expect "$tag: in an imported module" "$(stack_of py 70012)" \
		"\| $LIB:build_table \|( native[*0-9]* \|)? pystacks.py:[0-9]+:<module>"
	expect "$tag: on another thread" "$(stack_of py 70022)" \
		"tid=[2-9][0-9]* .*\| $THREAD:worker \|.*threading.py:[0-9]+:"
	expect "$tag: in a generator" "$(stack_of py 70032)" \
		"\| $GEN:gen \|( native[*0-9]* \|)? $USE_GEN:use_gen \|"
	expect "$tag: in a coroutine run by asyncio" "$(stack_of py 70042)" \
		"\| $CORO:inner_coro \|( native[*0-9]* \|)? $OUTER:outer_coro \|.*base_events.py:[0-9]+:.*\| pystacks.py:[0-9]+:<module>"
	expect "$tag: in a sorted() key, called from C" "$(stack_of py 70052)" \
		"\| $KEY:key_fn \| native[*0-9]* \| $USE_SORTED:use_sorted \|"
	expect "$tag: in a json object_hook, called from C" "$(stack_of py 70062)" \
		"\| $HOOK:hook \|.* native[*0-9]* \|.*decoder.py:[0-9]+:.*\| $USE_JSON:use_json \|"
	deep=$(stack_of py 70072)
	expect "$tag: at the bottom of 5,000 frames, cut at 64" "$deep" \
		"frames=64 \| native[*0-9]* \| $DEEP:recurse \|"
	expect "$tag: ... of them 20 or more of the recursion's frames" \
		"$(printf '%s\n' "$deep" | grep -o 'recurse' | wc -l)" "^([2-5][0-9]|6[0-4])$"
	expect "$tag: in a finally while an exception unwinds" "$(stack_of py 70082)" \
		"\| $FINALLY:thrower \|( native[*0-9]* \|)? pystacks.py:[0-9]+:thrower \|"
	expect "$tag: in the except clause" "$(stack_of py 70092)" \
		"\| $EXCEPT:use_raise \|( native[*0-9]* \|)? pystacks.py:[0-9]+:<module>"
	# Python frames only: the same Python frames, no native ones
	"$AT" record --native-stacks off --depth 256 -o py2.atr -- "$py" pystacks.py >/dev/null 2>&1
	"$PYST" py2.atr >stacks2.txt
	if grep -Eq '\| native(\*[0-9]+)?( \||$)' stacks2.txt; then
		not_ok "$tag: --native-stacks off records no native frame"
	else
		ok "$tag: --native-stacks off records no native frame"
	fi
	k=$(stack_of py 70052 stacks2.txt)
	expect "$tag: --native-stacks off: the callback's caller" "$k" "\| $KEY:key_fn \| $USE_SORTED:use_sorted \|"
	expect "$tag: --depth 256: 256 frames of the recursion" "$(stack_of py 70072 stacks2.txt)" \
		"frames=256 \| $DEEP:recurse \|"
	# --python-stacks off: native frames only, as before Python stacks
	rm -f py3.atr
	"$AT" record --python-stacks off -o py3.atr -- "$py" pystacks.py >/dev/null 2>&1
	expect "$tag: --python-stacks off records no Python frame" \
		"$("$PYST" --counts py3.atr)" "^requests [1-9][0-9]* with_python 0 max_frames [1-9][0-9]* codes 0$"
	# subinterpreters: before 3.12 the thread's state is the main
	# interpreter's (the frame that called into the subinterpreter); from
	# 3.12 the subinterpreter's own frames
	"$py" pysubinterp.py >plain.out 2>&1
	rm -f sub.atr
	"$AT" record -o sub.atr -- "$py" pysubinterp.py >traced.out 2>/dev/null
	st=$?
	if [ $st -ne 0 ] || ! cmp -s plain.out traced.out; then
		not_ok "$tag: subinterpreters run as untraced (status $st)"
	else
		"$PYST" sub.atr >sub.txt
		n=$(grep -Ec '^py_(obj|mem)_[a-z]+ 701[12]2 ' sub.txt)
		bad=$(grep -E '^py_(obj|mem)_[a-z]+ 701[12]2 ' sub.txt |
			grep -Ev "\| native[*0-9]* \| ($SUB:use_subinterp|<string>:[134]:(<module>|f)) \|")
		expect "$tag: subinterpreters' requests: 4 with Python frames, all where they ran" \
			"$n ${bad:-right}" "^4 right$"
	fi
	# code objects born where others died: each request names its own, also
	# under the debug hooks (-X dev), which fill a block before it is freed
	for mode in "" "-X dev"; do
		pad=0
		[ -n "$mode" ] && pad=24 # the hooks' two words before, one after
		rm -f re.atr re.*.atr
		"$AT" record -o re.atr -- "$py" $mode pyreuse.py >traced.out 2>/dev/null
		if [ $? -ne 0 ] || ! grep -q "code objects at" traced.out; then
			not_ok "$tag $mode: pyreuse.py runs under the tracer"
			continue
		fi
		"$PYST" re.atr | grep -E '^py_(obj|mem)_[a-z]+ 70[5-9][0-9][0-9] ' |
			sed -E 's/^[a-z_]+ ([0-9]+) .*\| (gen_[0-9]+)\.py:[0-9]+:(gen_[0-9]+) .*/\1 \2 \3/' >re.txt
		right=$(awk -v pad=$pad '{n = ($1 - 70501 - pad) / 10} $2 == "gen_" n && $3 == "gen_" n {r++}
			END {print NR, r + 0}' re.txt)
		expect "$tag $mode: 40 code objects ($(sed 's/code objects //' traced.out)): each request names its own" \
			"$right" "^40 40$"
		[ -z "$mode" ] || continue
		child=$(ls re.*.atr 2>/dev/null | head -n 1)
		expect "$tag: a forked child's trace has its Python frames" \
			"$([ -n "$child" ] && stack_of py 70992 /dev/stdin <<EOF2
$("$PYST" "$child")
EOF2
)" "\| $CHILD:in_child \|( native[*0-9]* \|)? pyreuse.py:[0-9]+:<module>"
	done
	ran="$ran $v"
done
if [ -n "$ran" ]; then ok "Python stacks checked for:$ran"; else not_ok "no CPython 3.8+ to check"; fi
done_testing
