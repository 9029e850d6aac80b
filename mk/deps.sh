#!/bin/sh
# mk/deps.sh - make sure the build's libraries are there, then print their
# compiler and linker flags as make variables (the Makefile includes them).
#
# Every library is a Debian -dev package found with pkg-config.  When one is
# missing and we are root with apt-get, install it (apt-get update first);
# otherwise stop and print the exact command to run.
set -eu

# pkg-config name : Debian package
DEPS="libzstd:libzstd-dev libunwind:libunwind-dev cmocka:libcmocka-dev libdw:libdw-dev"

missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
for d in $DEPS; do
	pc=${d%%:*} pkg=${d#*:}
	if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$pc"; then
		missing="$missing $pkg"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "arenatrace: installing missing packages:$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing >&2
	else
		echo "arenatrace: missing build dependencies:$missing" >&2
		echo "arenatrace: install them with: sudo apt-get install -y$missing" >&2
		exit 1
	fi
fi

for d in $DEPS; do
	pc=${d%%:*}
	var=$(echo "$pc" | tr 'a-z' 'A-Z')
	echo "${var}_CFLAGS := $(pkg-config --cflags "$pc")"
	echo "${var}_LIBS := $(pkg-config --libs "$pc")"
done
