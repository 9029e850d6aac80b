#!/bin/sh
# The layers depend one way (CONTRIBUTING.md): cli/ on everything below
# it; reports/ on replay/'s result types and traces/; replay/ on
# allocator/ and traces/; tracer/ on traces/ only; allocator/ and traces/
# on common/ at most.  Each folder's #include "..." lines are resolved to
# the folder holding that header; any other folder fails the test, with
# the include named.  Of replay/, reports/ see the result types only
# (rp_result.h, rp_measures.h, rp_moments.h), never the engine.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

allowed() {
	case $1 in
	common) echo "common" ;;
	allocator) echo "allocator common" ;;
	traces) echo "traces common" ;;
	tracer) echo "tracer traces common" ;;
	replay) echo "replay allocator traces common" ;;
	reports) echo "reports replay traces common" ;;
	cli) echo "cli reports replay allocator traces common" ;;
	esac
}

# where each project header lives
for d in common allocator traces tracer replay reports cli; do
	for h in "$d"/*.h; do
		[ -f "$h" ] && echo "$(basename "$h") $d"
	done
done >"$TMP/homes"

for d in common allocator traces tracer replay reports cli; do
	bad=""
	n=0
	for f in "$d"/*.c "$d"/*.h; do
		[ -f "$f" ] || continue
		for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
			home=$(awk -v h="$inc" '$1 == h { print $2 }' "$TMP/homes")
			n=$((n + 1))
			if [ -z "$home" ]; then
				bad="$bad $f:$inc(no such header)"
				continue
			fi
			case " $(allowed "$d") " in
			*" $home "*) ;;
			*) bad="$bad $f:$inc($home)" ;;
			esac
			if [ "$d" = reports ] && [ "$home" = replay ]; then
				case $inc in
				rp_result.h | rp_measures.h | rp_moments.h) ;;
				*) bad="$bad $f:$inc(the engine)" ;;
				esac
			fi
		done
	done
	if [ -z "$bad" ] && [ "$n" -gt 0 ]; then
		ok "$d/: its $n includes stay in $(allowed "$d" | sed 's/ /, /g')"
	else
		not_ok "$d/: includes out of its layers:$bad"
	fi
done
done_testing
