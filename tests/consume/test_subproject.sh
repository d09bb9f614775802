#!/bin/bash
# test_subproject.sh SRCDIR - taskdump as a meson subproject of another
# project, as a new user would use it: `dependency('taskdump')` (through
# meson.override_dependency) on a machine without Check and json-c (the
# subproject builds only the library and the agent: the tools, examples,
# benchmarks and tests are off by default there); the dependency's
# variable `agent` dumps the program; `meson install` puts the library, the
# agent and taskdump.pc into the consumer's prefix, and a program built
# from that taskdump.pc runs and is dumped too.  (issue 14)
. "$(dirname "$0")/lib.sh"
SRC=$(readlink -f "$1")
unset LD_LIBRARY_PATH TASKDUMP_AGENT
CC=${CC:-cc}
MESON=${MESON:-meson}
C=$WORK/consumer-project
mkdir -p "$C/subprojects"
ln -s "$SRC" "$C/subprojects/taskdump"
cp "$SRC/tests/consume/consumer.c" "$C/"
cat >"$C/meson.build" <<'EOF_MESON'
project('consumer', 'c', default_options : ['warning_level=2', 'werror=true'])
taskdump = dependency('taskdump')
executable('consumer', 'consumer.c', dependencies : taskdump,
  install : true,
  install_rpath : get_option('prefix') / get_option('libdir'))
configure_file(output : 'agent-path.txt',
  command : ['echo', taskdump.get_variable('agent')], capture : true)
EOF_MESON

# No Check, no json-c: pkg-config sees every other .pc file of this
# machine, and CMake (meson's other way to find them) is not there.
mkdir "$WORK/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
	[ -d "$d" ] || continue
	for f in "$d"/*.pc; do
		case $(basename "$f") in check.pc | json-c.pc) continue ;; esac
		[ -e "$WORK/pc/$(basename "$f")" ] || ln -s "$f" "$WORK/pc/"
	done
done
printf '[binaries]\ncmake = %s\n' "'/bin/false'" >"$WORK/native.ini"

step "meson setup (taskdump as a subproject)"
PKG_CONFIG_LIBDIR=$WORK/pc "$MESON" setup "$C/build" "$C" \
	--native-file "$WORK/native.ini" --force-fallback-for=taskdump \
	--prefix "$WORK/prefix" >>"$LOG" 2>&1 || fail "meson setup"
! grep -Ei 'run-time dependency (check|json-c)' "$C/build/meson-logs/meson-log.txt" ||
	fail "the subproject looked for Check or json-c"
step "build"
ninja -C "$C/build" >>"$LOG" 2>&1 || fail "ninja"
S=$C/build/subprojects/taskdump
[ -f "$S/runtime/libtaskdump.so" ] && [ -f "$S/agent/libtaskdump_agent.so" ] ||
	fail "the subproject did not build the library and the agent"
for t in tools/taskdump examples/taskdump-demo bench/taskdump-bench tests; do
	[ ! -e "$S/$t" ] || fail "the subproject built $t"
done
"$C/build/consumer" >>"$LOG" 2>&1 || fail "the consumer failed"
agent=$(cat "$C/build/agent-path.txt")
[ "$agent" = "$S/agent/libtaskdump_agent.so" ] || fail "agent=$agent"
mkdir "$WORK/dumps1"
check_dump "$C/build/consumer" "$WORK/dumps1" LD_PRELOAD="$agent"

step "meson install into $WORK/prefix"
"$MESON" install -C "$C/build" >>"$LOG" 2>&1 || fail "meson install"
libdir=$("$MESON" introspect "$C/build" --buildoptions | python3 -c '
import json, sys
print([x["value"] for x in json.load(sys.stdin) if x["name"] == "libdir"][0])')
LIB=$WORK/prefix/$libdir
export PKG_CONFIG_LIBDIR=$LIB/pkgconfig
agent=$(pkg-config --variable=agent taskdump) || fail "no installed taskdump.pc"
[ "$agent" = "$LIB/libtaskdump_agent.so" ] && [ -f "$agent" ] ||
	fail "installed agent=$agent"
mkdir "$WORK/dumps2"
check_dump "$WORK/prefix/bin/consumer" "$WORK/dumps2" LD_PRELOAD="$agent"

step "a program built from the installed taskdump.pc"
$CC -g "$C/consumer.c" $(pkg-config --cflags --libs taskdump) \
	-Wl,-rpath,"$(pkg-config --variable=libdir taskdump)" \
	-o "$WORK/consumer2" >>"$LOG" 2>&1 || fail "cc consumer.c"
mkdir "$WORK/dumps3"
check_dump "$WORK/consumer2" "$WORK/dumps3" LD_PRELOAD="$agent"
echo "ok"
