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
# MODE "agent": the agent alone.  Its thread must accept the signal for
# this to hold; an agent whose thread blocks every signal cannot be
# signalled that way, and the test skips (77) saying so.
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
	accepting=no
	for t in /proc/"$PID"/task/*; do
		[ "$(cat "$t/comm")" = taskdump-agent ] || continue
		m=$(awk '/^SigBlk:/ {print $2}' "$t/status")
		(( (16#$m >> 9) & 1 )) || accepting=yes
	done
	if [ "$accepting" = no ]; then
		echo "skip: the agent's thread blocks SIGUSR1 (an agent without" \
			"issue 10 item 8's thread that accepts it)"
		exit 77
	fi
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
