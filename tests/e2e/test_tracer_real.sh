#!/bin/sh
# End-to-end: real programs under `arenatrace record` give the same output
# and exit status as untraced, and leave complete traces (one per process):
# python3 running a script, git status, sqlite3, gcc and g++ compiling a
# file, make -j2 building a program, sort of a 1 MB file, sh and bash pipelines.
# Programs that are not installed are skipped, by name.
. "$(dirname "$0")/lib.sh"
skip_under_asan "real programs under the tracer"
AT=$(realpath "$AT")
cd "$TMP" || exit 1
n=0

# same DESC CMD...: output and status of CMD untraced and traced agree, and
# every trace the traced run wrote is complete.
same() {
	d=$1
	shift
	n=$((n + 1))
	"$@" >plain.out 2>plain.err
	want=$?
	"$AT" record -o "run$n.atr" -- "$@" >traced.out 2>traced.err
	got=$?
	strip_record_table traced.err traced.err2
	if [ "$want" -ne "$got" ] || ! cmp -s plain.out traced.out || ! cmp -s plain.err traced.err2; then
		not_ok "$d: output or status differs (untraced $want, traced $got)"
		diff plain.out traced.out | head -5 | sed 's/^/# /'
		return
	fi
	total=0 complete=0
	for f in run$n*.atr; do
		total=$((total + 1))
		"$AT" info --json "$f" >i.json 2>/dev/null &&
			grep -q '"complete": true' i.json && complete=$((complete + 1))
	done
	events=$("$AT" info --json "run$n.atr" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
	if [ "$total" -ge 1 ] && [ "$complete" -eq "$total" ] && [ "$events" -gt 0 ]; then
		ok "$d: same output and status ($got), $total complete trace(s), $events events in the first"
	else
		not_ok "$d: $complete of $total traces complete"
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

if have python3; then
	cat >script.py <<'PY'
import json, collections
words = ["w%d" % (i % 997) for i in range(200000)]
c = collections.Counter(words)
d = {k: [v] * 3 for k, v in c.items()}
print(len(d), sum(len(v) for v in d.values()), json.dumps(sorted(c.items())[:3]))
PY
	same "python3 running a script" "$(python3 -c "import sys; print(sys.executable)")" script.py
else skip "python3 running a script" "python3 not installed"; fi

if have git; then
	git init -q repo && (cd repo && echo a >a && echo b >b && git add a &&
		git -c user.email=t@t -c user.name=t commit -qm init && echo c >>a)
	same "git status" git -C repo status
else skip "git status" "git not installed"; fi

if have sqlite3; then
	same "sqlite3 with a few queries" sqlite3 :memory: \
		"create table t(a integer, b text); with recursive c(x) as (select 1 union all select x+1 from c where x<5000) insert into t select x, hex(randomblob(20)) from c; select count(*), sum(a) from t; create index i on t(b); select count(distinct substr(b,1,2)) from t;"
else skip "sqlite3 with a few queries" "sqlite3 not installed"; fi

if have gcc; then
	printf '#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }\n' >hello.c
	same "gcc compiling a file" gcc -O2 -c hello.c -o hello.o
else skip "gcc compiling a file" "gcc not installed"; fi

if have g++; then
	cat >hello.cc <<'CC'
#include <iostream>
#include <map>
#include <string>
#include <vector>
int main() {
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 100; i++) m["k" + std::to_string(i % 7)].push_back(i);
	for (auto &kv : m) std::cout << kv.first << " " << kv.second.size() << "\n";
}
CC
	same "g++ compiling a C++ file" g++ -O2 -c hello.cc -o hello-cc.o
else skip "g++ compiling a C++ file" "g++ not installed"; fi

if have make && have gcc; then
	# four objects built two at a time, linked, and the program run; -B:
	# the traced run builds everything again.  make runs from the project's
	# directory (a make -C would chdir and put its children's traces there).
	mkdir proj
	for k in 1 2 3 4; do
		echo "int f$k(int x) { return x * $k; }" >proj/f$k.c
	done
	cat >proj/main.c <<'C'
#include <stdio.h>
int f1(int), f2(int), f3(int), f4(int);
int main(void) { printf("%d\n", f1(1) + f2(2) + f3(3) + f4(4)); return 0; }
C
	cat >proj/Makefile <<'MK'
prog: main.o f1.o f2.o f3.o f4.o
	gcc -o $@ $^
	./prog
%.o: %.c
	gcc -O2 -c $< -o $@
MK
	cd proj || exit 1
	# (not the make that runs the tests: its MAKEFLAGS name a jobserver)
	same "make -j2 building and running a program of five files" \
		env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j2 -B
	cd "$TMP" || exit 1
else skip "make -j2 building a program" "make or gcc not installed"; fi

awk 'BEGIN { srand(7); for (i = 0; i < 60000; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' >big.txt
same "sort of a 1 MB file" sort big.txt
same "a shell pipeline" sh -c 'sort big.txt | uniq -c | sort -rn | tail -n 3'
if have bash; then
	same "a bash pipeline with pipefail" \
		bash -c 'set -o pipefail; sort big.txt | uniq -c | sort -rn | tail -n 3 | tr a-z A-Z'
else skip "a bash pipeline" "bash not installed"; fi

done_testing
