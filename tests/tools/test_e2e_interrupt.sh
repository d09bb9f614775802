#!/bin/bash
# test_e2e_interrupt.sh TASKDUMP DEMO AGENT DATA SLEEPER MODE - `taskdump
# dump` interrupts no thread of the program: the main thread of the
# target sleeps in nanosleep() (which any signal cuts short, SA_RESTART or
# not) while `taskdump dump` takes 20 dumps; it must sleep on, no EINTR.
# (issue 10, item 8)
#
# MODE "accepting": the target has a thread named taskdump-agent that
# takes SIGUSR1 and blocks everything else, as the agent's own thread
# does once it accepts the requests: taskdump must signal that thread.
# MODE "agent": the agent alone, whose thread waits for the signal in
# sigwaitinfo(): taskdump must signal that thread.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
SLEEPER=$(readlink -f "$5")
MODE=$6

D=$WORK/dumps
mkdir "$D"
args=("$WORK/stop")
[ "$MODE" = accepting ] && args+=(--accepting-thread)
env "${DEMO_ENV[@]}" LD_PRELOAD="$AGENT" TASKDUMP_DIR="$D" \
	"$SLEEPER" "${args[@]}" >"$WORK/sleeper.log" 2>&1 &
PID=$!
cleanup_hooks+=("kill -KILL $PID 2>/dev/null")
wait_for 30 grep -q '^sleeper: pid' "$WORK/sleeper.log"

if [ "$MODE" = agent ]; then
	# The agent's thread waits for the signal in sigwaitinfo(); taskdump
	# must find it by its name.
	found=no
	for t in /proc/"$PID"/task/*; do
		[ "$(cat "$t/comm")" = taskdump-agent ] && found=yes
	done
	[ "$found" = yes ] || fail "no thread named taskdump-agent in the sleeper"
fi

for i in $(seq 1 20); do
	run "$TD" dump -t 20s "$PID"
	expect_ok
	expect_out "^pid $PID$"
	alive "$PID" || fail "the sleeper ended after dump $i: $(cat "$WORK/sleeper.log")"
done
[ -f "$D/taskdump-$PID-20.txt" ] || fail "no 20th dump"
touch "$WORK/stop"
wait "$PID"
rc=$?
grep -q '^sleeper: not interrupted' "$WORK/sleeper.log" ||
	fail "sleeper (exit $rc): $(tail -1 "$WORK/sleeper.log")"
done_ok
