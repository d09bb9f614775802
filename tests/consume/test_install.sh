#!/bin/bash
# test_install.sh BUILDDIR SRCDIR SANITIZE - `meson install` into a scratch
# directory (DESTDIR), and what was installed works from there, not from
# the build tree: the layout (the demo under libexec/taskdump, not in bin/),
# the demo finds the installed libtaskdump by itself, the installed
# `taskdump run` preloads the installed agent, and a program built from the
# installed taskdump.pc (PKG_CONFIG_SYSROOT_DIR, as for any DESTDIR) runs
# and is dumped by `pkg-config --variable=agent taskdump`.  (issue 14)
. "$(dirname "$0")/lib.sh"
BUILD=$(readlink -f "$1")
SRC=$(readlink -f "$2")
SANITIZE=$3
# Only what was installed may be found: not the build tree.
unset LD_LIBRARY_PATH TASKDUMP_AGENT
CC=${CC:-cc}
MESON=${MESON:-meson}

step "meson install"
ROOT=$WORK/root
"$MESON" install -C "$BUILD" --no-rebuild --destdir "$ROOT" >>"$LOG" 2>&1 ||
	fail "meson install"
eval "$("$MESON" introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("prefix", "libdir", "bindir", "libexecdir", "includedir"):
    print("%s=%s" % (k, o[k]))
for k in ("tools", "examples"):
    print("opt_%s=%s" % (k, o.get(k, "auto")))
')"
P=$ROOT$prefix
LIB=$P/$libdir
for f in "$LIB/libtaskdump.so" "$LIB/libtaskdump_agent.so" \
	 "$LIB/pkgconfig/taskdump.pc" "$P/$includedir/taskdump/taskdump.h" \
	 "$P/$includedir/taskdump/dump.h"; do
	[ -e "$f" ] || fail "not installed: $f"
done
tool=$P/$bindir/taskdump
demo=$P/$libexecdir/taskdump/taskdump-demo
[ -x "$tool" ] || [ "$opt_tools" = disabled ] || fail "no $tool"
[ -x "$demo" ] || [ "$opt_examples" = disabled ] || fail "no $demo"
# bin/ holds the taskdump command and nothing else.
for f in "$P/$bindir"/*; do
	[ -e "$f" ] || continue
	[ "$(basename "$f")" = taskdump ] || fail "installed into bin/: $f"
done

if [ -x "$demo" ]; then
	step "the installed demo"
	uses_lib "$demo" "$LIB" ||
		fail "the demo does not find $LIB/libtaskdump.so: $(ldd "$demo")"
	"$demo" --requests 5 >>"$LOG" 2>&1 || fail "the installed demo failed"
fi
if [ -x "$tool" ]; then
	step "the installed taskdump run"
	out=$("$tool" run -- sh -c 'echo "$LD_PRELOAD"' 2>&1) || fail "run: $out"
	[ "$out" = "$LIB/libtaskdump_agent.so" ] ||
		fail "taskdump run preloads $out, not $LIB/libtaskdump_agent.so"
	if [ -x "$demo" ]; then
		mkdir "$WORK/run"
		"$tool" run --dump-after 500ms --show --dir "$WORK/run" -- \
			"$demo" --requests 30 >"$WORK/run.out" 2>&1 ||
			fail "installed run: $(tail -5 "$WORK/run.out")"
		grep -q '^task [0-9]* name="config-watcher"' "$WORK/run.out" ||
			fail "installed run: no dump of the demo"
	fi
fi

step "a program built from the installed taskdump.pc"
export PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$LIB/pkgconfig
command -v pkg-config >/dev/null || { echo "skip: no pkg-config"; exit 77; }
agent=$(pkg-config --variable=agent taskdump)
[ "$agent" = "$LIB/libtaskdump_agent.so" ] || fail "agent=$agent"
$CC -g $(cc_flags) "$SRC/tests/consume/consumer.c" \
	$(pkg-config --cflags --libs taskdump) \
	-Wl,-rpath,"$(pkg-config --variable=libdir taskdump)" \
	-o "$WORK/consumer" >>"$LOG" 2>&1 || fail "cc consumer.c"
uses_lib "$WORK/consumer" "$LIB" ||
	fail "the consumer does not use $LIB/libtaskdump.so"
mkdir "$WORK/dumps"
check_dump "$WORK/consumer" "$WORK/dumps" LD_PRELOAD="$agent"
echo "ok"
