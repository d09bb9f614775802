#!/bin/bash
# test_e2e_run.sh TASKDUMP DEMO AGENT DATA - `taskdump run`: the agent is
# preloaded, dumps are taken on schedule, signals are forwarded and the
# program's exit status comes back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
# The programs run here inherit the tool's environment.
export "${DEMO_ENV[@]}"

# run_bg NAME ARGS...: `taskdump run ARGS...` in the background; its
# stdout in $WORK/NAME.out, status in $WORK/NAME.rc when it ends.
run_bg() {
	local name=$1
	shift
	( "$TD" run "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	  echo $? >"$WORK/$name.rc" ) &
	BG_PID=$!
	cleanup_hooks+=("kill -KILL $BG_PID 2>/dev/null")
}
# The pid of the `taskdump run` process itself (the child of the subshell).
tool_pid() { pgrep -P "$1" -x taskdump; }
# Kill the programs taskdump runs (by pid) should the test fail.
track_children() {
	local c
	for c in $(pgrep -P "$1"); do
		cleanup_hooks+=("kill -KILL $c 2>/dev/null")
	done
}
# Dump paths printed in file $1 (the program shares the tool's stdout).
paths() { grep '^/.*/taskdump-[0-9]*-[0-9]*\.\(txt\|json\)$' "$1"; }
npaths() { [ -f "$1" ] && [ "$(paths "$1" | wc -l)" -ge "$2" ]; }

# Three dumps, 300 ms apart, in both formats; then SIGTERM to taskdump is
# forwarded to the demo, which stops cleanly: status 0.  The first comes
# after 1.5 s: an incremental dump lists a task caught in its poll as
# running, untraced, and a slow build (sanitizers) is still starting the
# demo's tasks at 300 ms.
for fmt in text json; do
	D=$WORK/run-$fmt
	mkdir "$D"
	run_bg $fmt --dump-after 1500ms --every 300ms --count 3 --dir "$D" \
		--format $fmt -- "$DEMO"
	wait_for 120 npaths "$WORK/$fmt.out" 3
	T=$(tool_pid "$BG_PID")
	[ -n "$T" ] || fail "no taskdump run process"
	track_children "$T"
	sleep 0.5 # no fourth dump comes
	kill -TERM "$T"
	wait "$BG_PID"
	[ "$(cat "$WORK/$fmt.rc")" -eq 0 ] || fail "run exited $(cat "$WORK/$fmt.rc")"
	paths "$WORK/$fmt.out" >"$WORK/$fmt.paths"
	[ "$(wc -l <"$WORK/$fmt.paths")" -eq 3 ] || fail "not 3 dumps"
	ext=txt; [ $fmt = json ] && ext=json
	grep -Eqvx "$D/taskdump-[0-9]+-[123]\.$ext" "$WORK/$fmt.paths" &&
		fail "unexpected paths: $(cat "$WORK/$fmt.paths")"
	grep -q '^taskdump: ' "$WORK/$fmt.err" &&
		fail "run reported an error: $(cat "$WORK/$fmt.err")"
	mapfile -t files <"$WORK/$fmt.paths"
	run "$TD" show --summary "${files[@]}"
	expect_ok
	run "$TD" diff "${files[@]}"
	expect_ok
	expect_out '^Never moved'
	run "$TD" fold "${files[@]}"
	expect_ok
	expect_out '^config_watcher_poll;await_reload_poll;[a-z_]+ 3$'
done

# --dump-after alone: one dump.  SIGINT (from kill, not the terminal) is
# forwarded too.
run_bg once --dump-after 200ms --dir "$WORK/run-text" -- "$DEMO" --current-thread
wait_for 120 npaths "$WORK/once.out" 1
track_children "$(tool_pid "$BG_PID")"
kill -INT "$(tool_pid "$BG_PID")"
wait "$BG_PID"
[ "$(cat "$WORK/once.rc")" -eq 0 ] || fail "once: exit $(cat "$WORK/once.rc")"
[ "$(paths "$WORK/once.out" | wc -l)" -eq 1 ] || fail "once: not one dump"

# --show: the dump itself follows its path on stdout (the README's first
# command), and the program runs to its own end (--requests): status 0.
"$TD" run --dump-after 300ms --show --dir "$WORK/run-text" -- "$DEMO" \
	--requests 10 >"$WORK/show.out" 2>"$WORK/show.err" ||
	fail "run --show exited $?: $(cat "$WORK/show.err")"
p=$(paths "$WORK/show.out")
[ -n "$p" ] || fail "--show: no path printed"
grep -qx 'taskdump 1' "$WORK/show.out" || fail "--show: no dump printed"
grep -q '^task [0-9]* name="config-watcher"' "$WORK/show.out" ||
	fail "--show: the dump printed lacks the demo's tasks"
# What was printed is the file, whole.
awk -v p="$p" 'found {print} $0 == p {found = 1}' "$WORK/show.out" |
	grep -v '^taskdump-demo: ' | head -n "$(wc -l <"$p")" | cmp -s - "$p" ||
	fail "--show: what was printed differs from $p"

# A signal the program does not handle kills it: 128 + the signal.  (Sent
# once taskdump catches SIGHUP: before, it would die of it itself.)
catches() { # PID SIG: does PID have a handler for signal number SIG?
	local m
	m=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status") || return 1
	(( (16#$m >> ($2 - 1)) & 1 ))
}
run_bg hup -- "$DEMO"
wait_for 60 tool_pid "$BG_PID"
T=$(tool_pid "$BG_PID")
wait_for 60 pgrep -P "$T"
track_children "$T"
wait_for 60 catches "$T" 1
kill -HUP "$T"
wait "$BG_PID"
[ "$(cat "$WORK/hup.rc")" -eq 129 ] || fail "HUP: exit $(cat "$WORK/hup.rc")"

# Exit statuses and LD_PRELOAD.
run "$TD" run -- sh -c 'exit 7'
expect_rc 7
run "$TD" run -- sh -c 'kill -KILL $$'
expect_rc 137
run "$TD" run -- sh -c 'echo "$LD_PRELOAD"'
expect_ok
expect_out "^$AGENT\$"
# (An ASan-built taskdump needs libasan first in its own LD_PRELOAD.)
pre=libm.so.6
asan=$(ldd "$TD" | awk '/libasan/ {print $3}')
[ -n "$asan" ] && pre=$asan:$pre
run env LD_PRELOAD="$pre" "$TD" run -- sh -c 'echo "$LD_PRELOAD"'
expect_ok
expect_out "^$pre:$AGENT\$"
run env LD_PRELOAD="$AGENT" "$TD" run -- sh -c 'echo "$LD_PRELOAD"'
expect_out "^$AGENT\$"
run env TASKDUMP_AGENT="$AGENT" "$TD" run -- sh -c 'echo "$LD_PRELOAD"'
expect_out "^$AGENT\$"
run "$TD" run --dir "$WORK" --format json -- sh -c 'echo "$TASKDUMP_DIR $TASKDUMP_FORMAT"'
expect_out "^$WORK json\$"
# Options after PROGRAM are the program's.
run "$TD" run sh -c 'echo "$0"' --help
expect_ok
expect_out '^--help$'

# Errors of run itself.
run "$TD" run -- /nonexistent/program
expect_error 127 'cannot run /nonexistent/program: No such file'
run "$TD" run -- "$DATA/demo-1.txt"
expect_error 126 'Permission denied'
run env TASKDUMP_AGENT=/nonexistent/agent.so "$TD" run -- true
expect_error 5 'TASKDUMP_AGENT=/nonexistent/agent.so'

# The program exits before its dump: one error line, its own status.
run "$TD" run --dump-after 0 --every 50ms --dir "$WORK" -- sh -c 'sleep 0.3; exit 3'
expect_rc 3
# (a dump of a process without a runtime is a valid file with a note)
grep -q '^taskdump: ' "$ERR" && [ "$(grep -c '^taskdump: ' "$ERR")" -gt 1 ] &&
	fail "more than one error line"
done_ok
