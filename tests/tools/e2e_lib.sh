# e2e_lib.sh - starting programs under the agent (sourced after lib.sh).
#
# Arguments of every e2e script: TASKDUMP DEMO AGENT DATA.
DEMO=$(readlink -f "$2")
AGENT=$(readlink -f "$3")
DATA=$4
chmod 755 "$WORK" # other users (nobody) must reach the files below

# A ThreadSanitizer build leaves the agent's __tsan_* symbols to the
# program: preloaded into sh or stdbuf it cannot even load.  Skip (77).
if nm -D --undefined-only "$AGENT" 2>/dev/null | grep -q ' __tsan_init$'; then
	echo "skip: a TSan-built agent loads only into TSan-built programs"
	exit 77
fi

# In a sanitizer build the preloaded agent comes before libasan in the
# program's library list, which ASan refuses unless told.  The demo is the
# runtime's, not the tool's: its leaks and UBSan reports (in its log) do
# not stop it here; the tool keeps the strict settings.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
DEMO_ENV=(ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0:abort_on_error=0"
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0)

# start_demo NAME DIR [VAR=VALUE...] [-- DEMO-ARGS...]: run the demo in
# DIR with the agent preloaded and the variables set, in the background;
# wait until it is serving.  Sets $DEMO_PID, output in $WORK/NAME.log.
start_demo() {
	local name=$1 dir=$2 vars=() args=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	args=("$@")
	# stdbuf: the demo's stdout is a file here, and its first line tells
	# that it serves.  (stdbuf adds its own library to LD_PRELOAD.)
	(cd "$dir" && exec env "${DEMO_ENV[@]}" LD_PRELOAD="$AGENT" "${vars[@]}" \
		stdbuf -oL "$DEMO" "${args[@]}") >"$WORK/$name.log" 2>&1 &
	DEMO_PID=$!
	cleanup_hooks+=("kill -KILL $DEMO_PID 2>/dev/null")
	wait_for 60 grep -q '^taskdump-demo: pid' "$WORK/$name.log"
}

# stop_demo PID: SIGTERM, and wait for it (it must exit 0).
stop_demo() {
	kill -TERM "$1"
	wait "$1"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "demo $1 exited $rc"
}

alive() { kill -0 "$1" 2>/dev/null; }

# The JSON file $1 loads in python and satisfies the python expression $2
# (d is the document).
json_check() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert eval(sys.argv[2]), sys.argv[2]' "$1" "$2" ||
		fail "JSON check failed: $2"
}
