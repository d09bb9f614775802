#!/bin/bash
# test_pkgconfig.sh BUILDDIR SRCDIR SANITIZE - the uninstalled taskdump.pc
# (BUILDDIR/meson-uninstalled, as `meson devenv` offers it) works: Cflags
# name runtime/include and the flags traces need, the README's example
# builds from `pkg-config --cflags --libs taskdump` and runs, and
# `pkg-config --variable=agent taskdump` is an agent that dumps it.
# (issue 14)
. "$(dirname "$0")/lib.sh"
BUILD=$(readlink -f "$1")
SRC=$(readlink -f "$2")
SANITIZE=$3
command -v pkg-config >/dev/null || { echo "skip: no pkg-config"; exit 77; }
export PKG_CONFIG_PATH=$BUILD/meson-uninstalled

step "pkg-config"
cflags=$(pkg-config --cflags taskdump) || fail "pkg-config --cflags"
libs=$(pkg-config --libs taskdump) || fail "pkg-config --libs"
agent=$(pkg-config --variable=agent taskdump) || fail "--variable=agent"
echo "cflags: $cflags" >>"$LOG"
for f in "-I$SRC/runtime/include" -fno-optimize-sibling-calls \
	 -fno-omit-frame-pointer; do
	[[ " $cflags " == *" $f "* ]] || fail "Cflags lack $f: $cflags"
done
[ "$agent" = "$BUILD/agent/libtaskdump_agent.so" ] || fail "agent=$agent"
[ -f "$agent" ] || fail "no $agent"

step "build the README's example and the consumer"
rpath=$(pkg-config --libs-only-L taskdump | sed 's/^ *-L//; s/ *$//')
for p in examples/hello tests/consume/consumer; do
	cc -g $(cc_flags) "$SRC/$p.c" $cflags $libs -Wl,-rpath,"$rpath" \
		-o "$WORK/$(basename $p)" >>"$LOG" 2>&1 || fail "cc $p.c"
done
"$WORK/hello" >"$WORK/hello.out" 2>&1 || fail "hello: $(cat "$WORK/hello.out")"
grep -qx "sum 6" "$WORK/hello.out" || fail "hello: $(cat "$WORK/hello.out")"

step "the agent from --variable=agent"
mkdir "$WORK/dumps"
check_dump "$WORK/consumer" "$WORK/dumps" LD_PRELOAD="$agent"
echo "ok"
