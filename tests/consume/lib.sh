# lib.sh - helpers of the tests of consuming taskdump (sourced).
#
#   fail MSG...          print FAIL: MSG and the log, exit 1
#   step MSG...          log what the test does next
#   cc_flags             extra compiler flags: the sanitizers the build
#                        under test uses ($SANITIZE: meson's b_sanitize)
#   uses_lib EXE DIR     EXE loads libtaskdump.so from directory DIR
#   check_dump EXE DIR ENV... run EXE 20000 with the agent preloaded (ENV:
#                        LD_PRELOAD=... and more), ask for a dump with
#                        SIGUSR1, and check that DIR gets one that lists
#                        the task "sleepy"
set -u
WORK=$(mktemp -d "${TMPDIR:-/tmp}/taskdump-consume.XXXXXX")
LOG=$WORK/log
cleanup_hooks=()
trap 'for h in "${cleanup_hooks[@]}"; do eval "$h"; done; rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	tail -n 40 "$LOG" >&2 2>/dev/null
	exit 1
}

step() { echo "== $*" >>"$LOG"; }

# Programs built here link the library of the build under test: with its
# sanitizers, if it has any.  Preloading an ASan-built agent in front of
# libasan is refused unless told.
cc_flags() {
	[ "${SANITIZE:-none}" != none ] && echo "-fsanitize=$SANITIZE"
}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0"

uses_lib() {
	local p
	p=$(ldd "$1" | awk '$1 ~ /^libtaskdump\.so/ {print $3}')
	[ -n "$p" ] && [ "$(dirname "$(readlink -f "$p")")" = "$(readlink -f "$2")" ]
}

check_dump() {
	local exe=$1 dir=$2 pid i
	shift 2
	(cd "$dir" && exec env "$@" "$exe" 20000) >"$WORK/consumer.out" 2>&1 &
	pid=$!
	cleanup_hooks+=("kill -KILL $pid 2>/dev/null")
	for i in $(seq 300); do
		grep -q '^consumer: pid' "$WORK/consumer.out" && break
		sleep 0.1
	done
	grep -q '^consumer: pid' "$WORK/consumer.out" ||
		fail "$exe did not start: $(cat "$WORK/consumer.out")"
	# (the agent's handler is in place before main runs)
	kill -USR1 "$pid"
	for i in $(seq 300); do
		[ -f "$dir/taskdump-$pid-1.txt" ] && break
		sleep 0.1
	done
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	[ -f "$dir/taskdump-$pid-1.txt" ] ||
		fail "no dump from $exe: $(cat "$WORK/consumer.out")"
	grep -q '^task [0-9]* name="sleepy"' "$dir/taskdump-$pid-1.txt" ||
		fail "the dump of $exe does not list sleepy"
	cat "$WORK/consumer.out" >>"$LOG"
}
