#!/bin/sh
# End-to-end: the tracer never changes what a program does (issue 13, the
# defects numbered as there): a daemon that closes every descriptor and
# opens its own files (1), children that close their descriptors before
# exec (2), fork beside dl_iterate_phdr (3), pthread_exit from main (4),
# threads of the tracer's own that the program sees (5), relative trace
# paths after chdir (9), SIGTERM to the launcher (11), a crash right after
# start (12); at size: 500 subprocesses from 4 threads, fork from 8
# allocating threads.  Each traced run is compared with the same run
# untraced; a hang is a failure (a timeout of many times the untraced run).
# ARENATRACE_LONG=1 runs the Python parts under every CPython 3.8+ on the
# machine, else under the oldest and the newest.
. "$(dirname "$0")/lib.sh"
skip_under_asan "tracer robustness"
P=$(realpath "$B/tests/progs")
AT=$(realpath "$AT")
PYT=$(realpath "$(dirname "$0")/../python")
cd "$TMP" || exit 1
ulimit -c 0

# pythons.all: "X.Y PATH N" for every CPython 3.8+ (N tells apart two of
# one version: pyenv's and the system's)
i=0
for py in $(cpython_interpreters); do
	v=$(cpython_version "$py")
	[ -n "$v" ] || continue
	i=$((i + 1))
	echo "$v $py $i"
done >pythons.all
# the oldest and the newest version, or all of them
sort -t. -k1,1n -k2,2n pythons.all | awk '!seen[$1]++' >pythons.uniq
if [ "${ARENATRACE_LONG:-0}" = 1 ]; then
	cp pythons.all pythons
else
	{ head -n 1 pythons.uniq; tail -n 1 pythons.uniq; } | sort -u >pythons
fi
echo "# CPython versions: $(cut -d' ' -f1 pythons | tr '\n' ' ')"

# pair NAME SECS CMD...: CMD untraced, from the directory NAME/plain, then
# under `record -o t.atr` from NAME/traced (CMD may name files relative
# to it); outputs in NAME/{plain,traced}.{out,err}, the launcher's closing
# table removed from traced.err into traced.list.  Sets want and got (the
# statuses) and ms (the untraced run's milliseconds).  The traced run
# counts as hung after SECS seconds plus 10 times the untraced time.  Both read /dev/null (not the list a loop
# around them reads).
pair() {
	_pn=$1 _ps=$2
	shift 2
	mkdir -p "$_pn/plain" "$_pn/traced"
	_pt0=$(now_ms)
	(cd "$_pn/plain" && limited 300 "$@" </dev/null >../plain.out 2>../plain.err)
	want=$?
	ms=$(($(now_ms) - _pt0))
	(cd "$_pn/traced" &&
		limited $((_ps + ms / 100)) "$AT" record -o t.atr -- "$@" </dev/null >../traced.out \
			2>../traced.all)
	got=$?
	strip_record_table "$_pn/traced.all" "$_pn/traced.err"
	tail -n +$(($(wc -l <"$_pn/traced.err") + 1)) "$_pn/traced.all" >"$_pn/traced.list"
	reap
}

# same_run DESC NAME: the traced run of NAME did not hang and gave the
# untraced run's status, stdout and stderr
same_run() {
	_sd=$1 _sn=$2
	if hung "$got"; then
		not_ok "$_sd: hung (timed out; untraced $ms ms)"
	elif [ "$want" -ne "$got" ] || ! cmp -s "$_sn/plain.out" "$_sn/traced.out" ||
		! cmp -s "$_sn/plain.err" "$_sn/traced.err"; then
		not_ok "$_sd: differs from untraced (status $want untraced, $got traced)"
		diff "$_sn/plain.out" "$_sn/traced.out" | head -n 4 | sed 's/^/# out: /'
		diff "$_sn/plain.err" "$_sn/traced.err" | head -n 6 | sed 's/^/# err: /'
	else
		ok "$_sd: same status ($got), stdout and stderr as untraced ($ms ms untraced)"
	fi
}

# sound DESC NAME [complete]: traces_sound on NAME's traced run
sound() {
	if traces_sound "$2/traced.list" "$2/traced" $3 >"$2/sound"; then
		ok "$1: $(wc -l <"$TMP/ts.listed") traces listed, each there and read by info${3:+, complete}"
	else
		not_ok "$1: the traces listed and written disagree ($(wc -l <"$2/sound") problems)"
		head -n 5 "$2/sound" | sed 's/^/# /'
	fi
}

# same_files DESC NAME FILE...: the files the runs wrote are identical
same_files() {
	_fd=$1 _fn=$2 _fbad=""
	shift 2
	for _ff in "$@"; do
		cmp -s "$_fn/plain/$_ff" "$_fn/traced/$_ff" || _fbad="$_fbad $_ff"
	done
	if [ -z "$_fbad" ]; then ok "$_fd: its $# files byte for byte as untraced"
	else not_ok "$_fd: files differ from untraced:$_fbad"; fi
}

# --- 1: a daemon closes every descriptor and opens files of its own ---
pair d1c 20 "$P/daemon" .
same_run "defect 1: a C daemon (fork, closefrom(3), 6 log files, exec)" d1c
same_files "defect 1: the C daemon" d1c log0 log1 log2 log3 log4 log5
sound "defect 1: the C daemon" d1c complete
while read -r v py i; do
	pair "d1py$i" 20 "$py" "$PYT/daemon.py" .
	same_run "defect 1: python $v daemon (os.closerange(3, 4096), 8 log files)" "d1py$i"
	same_files "defect 1: the python $v daemon" "d1py$i" log0.txt log1.txt log2.txt log3.txt \
		log4.txt log5.txt log6.txt log7.txt
	sound "defect 1: the python $v daemon" "d1py$i" complete
done <pythons

# --- 2: children that close their descriptors, then exec ---
# (the pools' workers end by SIGTERM: their traces have no end record, but
# must not be empty, as a worker's is when it is killed before its first
# flush, which happens now and then from 3.10 on)
while read -r v py i; do
	pair "d2py$i" 30 "$py" "$PYT/closefds.py"
	desc="defect 2: python $v, subprocess close_fds, spawn and forkserver pools"
	same_run "$desc: stderr as untraced" "d2py$i"
	sound "$desc: no 0-byte trace" "d2py$i"
done <pythons.all

# --- 3: fork while another thread walks the loaded objects ---
for i in 1 2 3; do
	pair "d3.$i" 20 "$P/phdrfork" 200
	same_run "defect 3: 200 forks beside a thread in dl_iterate_phdr, run $i of 3" "d3.$i"
done
sound "defect 3: 200 forks beside dl_iterate_phdr: the children's traces" d3.3 complete

# --- 4: the main thread leaves with pthread_exit ---
pair d4 10 "$P/mainexit"
same_run "defect 4: main calls pthread_exit while a worker runs 0.1 s: the process exits" d4
sound "defect 4: pthread_exit from main" d4 complete

# --- 5: the tracer's threads are not the program's ---
pair d5 10 "$P/lonely"
check "defect 5: a traced single-threaded C program: 1 thread in /proc/self/status" \
	grep -qx 'Threads:[[:space:]]*1' d5/traced.out
echo "# untraced: $(tr '\t' ' ' <d5/plain.out), traced: $(tr '\t' ' ' <d5/traced.out)"
cat >fork1.py <<'PY'
import os
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
PY
n5=0
while read -r v py i; do
	case $v in 3.8 | 3.9 | 3.10 | 3.11) continue ;; esac
	pair "d5py$i" 10 "$py" -W default "$TMP/fork1.py"
	same_run "defect 5: python $v -W default, single-threaded os.fork: no multi-threaded warning" \
		"d5py$i"
	n5=$((n5 + 1))
done <pythons.all
[ "$n5" -gt 0 ] || skip "defect 5: python 3.12+ single-threaded os.fork" "no CPython 3.12+ here"

# --- 9: relative trace paths and chdir ---
mkdir -p d9a/plain/sub d9a/traced/sub
pair d9a 10 sh -c 'cd sub && "$1" 3 >/dev/null && echo done' sh "$P/selfcount"
same_run "defect 9: record -o t.atr -- sh -c 'cd sub && prog'" d9a
sound "defect 9: sh -c 'cd sub && prog': every trace where record started, as listed" d9a complete
mkdir -p d9b/plain/sub d9b/traced/sub
pair d9b 10 "$P/chdirfork" sub
same_run "defect 9: a C program that chdirs, forks, and forks+execs" d9b
sound "defect 9: C chdir then fork: every trace where record started, as listed" d9b complete
cat >chdir.py <<'PY'
import os, subprocess
os.chdir("sub")
pid = os.fork()
if pid == 0:
    x = [str(i) for i in range(1000)]
    os._exit(0)
os.waitpid(pid, 0)
subprocess.run(["true"], check=True)
print("chdir ok")
PY
read -r v py i <<EOF
$(tail -n 1 pythons.uniq)
EOF
mkdir -p d9py/plain/sub d9py/traced/sub
pair d9py 10 "$py" -W ignore::DeprecationWarning "$TMP/chdir.py" # not defect 5's warning
same_run "defect 9: python $v that chdirs, forks and runs a subprocess" d9py
sound "defect 9: python chdir then fork: every trace where record started, as listed" d9py complete

# --- 11: SIGTERM to the launcher ---
# term NAME CMD...: starts record -o t.atr -- CMD in NAME (CMD writes its
# pid to NAME/pid) and sends SIGTERM to the launcher once the program
# runs.  Sets rc (the launcher's status; 137 if it did not end within 20 s
# and was killed) and alive (1 if the program still ran 5 s later).
running() { grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }
term() {
	_tn=$1
	shift
	mkdir -p "$_tn"
	cd "$_tn" || exit 1
	ARENATRACE_E2E_RUN=$TMP "$AT" record -o t.atr -- "$@" </dev/null >out 2>err &
	_tl=$!
	cd "$TMP" || exit 1
	for _ti in $(seq 100); do [ -s "$_tn/pid" ] && break; sleep 0.05; done
	sleep 0.3
	_tp=$(cat "$_tn/pid" 2>/dev/null)
	kill -TERM "$_tl"
	for _ti in $(seq 200); do running "$_tl" || break; sleep 0.1; done
	running "$_tl" && kill -KILL "$_tl"
	wait "$_tl"
	rc=$?
	alive=1
	if [ -n "$_tp" ]; then
		for _ti in $(seq 50); do running "$_tp" || { alive=0; break; }; sleep 0.1; done
	else
		echo "# $_tn: the program did not start"
	fi
	reap
}
# named NAME DESC: the launcher's list on NAME/err names every trace in NAME
named() {
	if traces_sound "$1/err" "$1" >"$1/sound"; then
		ok "$2 ($(wc -l <"$TMP/ts.listed") traces)"
	else
		not_ok "$2"
		head -n 3 "$1/sound" | sed 's/^/# /'
	fi
}
term d11a "$P/killme" pid
check "defect 11: SIGTERM to record: the traced program (no handler) receives it and is gone" \
	test "$alive" -eq 0
check "defect 11: SIGTERM to record: record exits 143 ($rc)" test "$rc" -eq 143
named d11a "defect 11: SIGTERM to record: it still lists on stderr the traces written"
term d11b sh -c 'trap "echo handled >handled; exit 7" TERM; echo $$ >pid; while :; do sleep 0.05; done'
check "defect 11: SIGTERM to record: the program's handler runs and it exits" \
	sh -c "test $alive -eq 0 && test -f d11b/handled"
check "defect 11: SIGTERM to record, the program handles it: record exits with its status 7 ($rc)" \
	test "$rc" -eq 7
named d11b "defect 11: SIGTERM to record, the program handles it: record lists the traces"

# --- 12: a crash a few milliseconds after start ---
for how in raise null; do
	pair "d12$how" 10 "$P/crash" "$how"
	check "defect 12: 1,000 mallocs then SIGSEGV ($how): record exits 139 as untraced ($want, $got)" \
		sh -c "test $want -eq 139 && test $got -eq 139"
	"$AT" info --json "d12$how/traced/t.atr" >"d12$how.json" 2>/dev/null
	mallocs=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["calls"]["malloc"])' \
		"d12$how.json" 2>/dev/null)
	check "defect 12: 1,000 mallocs then SIGSEGV ($how): the trace holds them (${mallocs:-no} mallocs)" \
		test "${mallocs:-0}" -ge 1000
done

# --- beside issue 13's list: CPython's debug allocator ---
# (found by test_os's test_fork: the interpreter aborts at exit, "bad ID:
# Allocated using API '!', verified using API 'r'")
while read -r v py i; do
	pair "mdbg$i" 10 env PYTHONMALLOC=malloc_debug "$py" -c 'print(sum(range(10000)))'
	same_run "python $v with PYTHONMALLOC=malloc_debug (not in issue 13's list)" "mdbg$i"
done <pythons

# --- at size: many children from threaded programs ---
while read -r v py i; do
	desc="at size (defect 2): python $v, 500 subprocesses from 4 threads (close_fds, pass_fds)"
	pair "spawn$i" 60 "$py" "$PYT/spawns.py"
	same_run "$desc" "spawn$i"
	check "$desc: all exit 0" grep -qx 'spawns ok 500' "spawn$i/traced.out"
	sound "$desc: every trace" "spawn$i" complete
	desc="at size (defect 3): python $v, os.fork x 40 beside 8 allocating threads"
	pair "forkth$i" 60 "$py" "$PYT/forkthreads.py" 40
	same_run "$desc" "forkth$i"
	sound "$desc: every child's trace" "forkth$i" complete
	rm -rf "spawn$i" "forkth$i"
done <pythons

done_testing
