#!/bin/bash
# test_e2e_errors.sh TASKDUMP DEMO AGENT DATA - `taskdump dump` when things
# go wrong: each is one error line and a documented status, never a hang,
# and a process without the agent is never signalled.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

# No such process (pids are below pid_max).
run "$TD" dump "$(cat /proc/sys/kernel/pid_max)"
expect_error 3 'no such process'

# A process without the agent: refused, and still alive.
sleep 100 &
SLEEP=$!
cleanup_hooks+=("kill -KILL $SLEEP 2>/dev/null")
run "$TD" dump "$SLEEP"
expect_error 3 "process $SLEEP does not have the taskdump agent loaded"
alive "$SLEEP" || fail "the process without the agent died"

# A zombie.
sh -c 'sleep 0 & exec sleep 100' &
PARENT=$!
cleanup_hooks+=("kill -KILL $PARENT 2>/dev/null")
zombie() { ps -o pid=,stat= --ppid "$PARENT" | awk '$2 ~ /^Z/ {print $1}'; }
has_zombie() { [ -n "$(zombie)" ]; }
wait_for 30 has_zombie
run "$TD" dump "$(zombie | head -1)"
expect_error 3 'exited|zombie|no such process'

# Every thread stopped (a thread that had not yet stopped could still
# take the signal, and its dump would never come nor the signal stay).
all_stopped() {
	local t
	for t in /proc/"$1"/task/*/stat; do
		awk '{sub(/.*\) /, ""); exit ($1 == "T" || $1 == "t") ? 0 : 1}' "$t" ||
			return 1
	done
}
# A stopped process never answers: a timeout, with the directory named.
D=$WORK/dumps
mkdir "$D"
start_demo demo "$WORK" TASKDUMP_DIR="$D"
PID=$DEMO_PID
kill -STOP "$PID"
wait_for 30 all_stopped "$PID"
run "$TD" dump --timeout 1500ms "$PID"
expect_error 4 "no dump from process $PID in $D after 1\\.[0-9]s"
kill -CONT "$PID"
alive "$PID" || fail "the demo died"

# The process dies while taskdump waits: "exited before writing the dump".
# (Stopped, it cannot answer; once the signal is pending, it is killed.)
usr1_pending() { # for the process, or for one of its threads (tgkill)
	local m t
	for t in /proc/"$1"/task/*/status; do
		for m in $(awk '/^(ShdPnd|SigPnd):/ {print $2}' "$t"); do
			(( (16#$m >> 9) & 1 )) && return 0
		done
	done
	return 1
}
start_demo victim "$WORK" TASKDUMP_DIR="$D"
VICTIM=$DEMO_PID
kill -STOP "$VICTIM"
wait_for 30 all_stopped "$VICTIM"
( "$TD" dump --timeout 60s "$VICTIM" >"$WORK/victim.out" 2>"$WORK/victim.err"
  echo $? >"$WORK/victim.rc" ) &
WAITER=$!
wait_for 30 usr1_pending "$VICTIM"
kill -KILL "$VICTIM"
wait "$WAITER"
[ "$(cat "$WORK/victim.rc")" -eq 3 ] || fail "victim: exit $(cat "$WORK/victim.rc")"
[ "$(wc -l <"$WORK/victim.err")" -eq 1 ] || fail "victim: stderr lines"
grep -q "^taskdump: process $VICTIM exited before writing the dump$" \
	"$WORK/victim.err" || fail "victim: $(cat "$WORK/victim.err")"
wait "$VICTIM" 2>/dev/null

# Permission denied: drop to nobody (needs root and setpriv).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TD" dump "$PID"
	expect_error 3 "permission denied: process $PID belongs to uid 0"
else
	echo "skip: permission test needs root and setpriv"
fi
stop_demo "$PID"

# A dump directory that does not exist.
start_demo nodir "$WORK" TASKDUMP_DIR=/nonexistent/dumps
run "$TD" dump "$DEMO_PID"
expect_error 3 'dump directory /nonexistent/dumps of process [0-9]+ does not exist'
stop_demo "$DEMO_PID"

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	# The target runs as nobody: root may dump it, if the directory
	# takes the file...
	mkdir -m 777 "$WORK/open"
	mkdir -m 755 "$WORK/closed"
	start_demo nobody "$WORK" TASKDUMP_DIR="$WORK/open" -- --current-thread
	# (start_demo runs as root; restart the same way as nobody)
	stop_demo "$DEMO_PID"
	(cd "$WORK" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \
		env "${DEMO_ENV[@]}" LD_PRELOAD="$AGENT" TASKDUMP_DIR="$WORK/open" \
		stdbuf -oL "$DEMO") >"$WORK/nobody1.log" 2>&1 &
	NOBODY=$!
	cleanup_hooks+=("kill -KILL $NOBODY 2>/dev/null")
	wait_for 60 grep -q '^taskdump-demo: pid' "$WORK/nobody1.log"
	run "$TD" dump "$NOBODY"
	expect_ok
	expect_out "^pid $NOBODY$"
	kill -TERM "$NOBODY"; wait "$NOBODY"
	# ... and says so when it cannot: the directory is not writable by
	# the process, found well before the timeout.
	(cd "$WORK" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \
		env "${DEMO_ENV[@]}" LD_PRELOAD="$AGENT" TASKDUMP_DIR="$WORK/closed" \
		stdbuf -oL "$DEMO") >"$WORK/nobody2.log" 2>&1 &
	NOBODY=$!
	cleanup_hooks+=("kill -KILL $NOBODY 2>/dev/null")
	wait_for 60 grep -q '^taskdump-demo: pid' "$WORK/nobody2.log"
	start=$(date +%s)
	run "$TD" dump --timeout 30s "$NOBODY"
	expect_error 4 "the dump directory $WORK/closed is not writable by the process \\(uid 65534\\)"
	[ $(($(date +%s) - start)) -lt 15 ] || fail "took the whole timeout"
	kill -TERM "$NOBODY"; wait "$NOBODY"
else
	echo "skip: other-user tests need root and setpriv"
fi

# A full disk (a 64 KiB tmpfs, if this machine lets us mount one).
mkdir "$WORK/full"
if mount -t tmpfs -o size=64k tmpfs "$WORK/full" 2>/dev/null; then
	cleanup_hooks+=("umount -l '$WORK/full' 2>/dev/null")
	head -c 60000 /dev/zero >"$WORK/full/filler" 2>/dev/null
	start_demo full "$WORK" TASKDUMP_DIR="$WORK/full" -- --clients 20
	run "$TD" dump --timeout 30s "$DEMO_PID"
	expect_error 4 "the dump directory $WORK/full is full \\([0-9]+ KiB free\\)"
	stop_demo "$DEMO_PID"
	umount "$WORK/full"
else
	echo "skip: full-disk test needs to mount a tmpfs"
fi
done_ok
