#!/bin/bash
# test_diff_fold.sh TASKDUMP DATA - `taskdump diff` and `taskdump fold`.
. "$(dirname "$0")/lib.sh"
DATA=$2
D1=$DATA/demo-1.txt
D2=$DATA/demo-2.txt

section() { # print the lines of section $1 of $OUT (up to a blank line)
	awk -v s="$1" 'index($0, s) == 1 {p=1; next} /^$/ {p=0} p' "$OUT"
}

run "$TD" diff "$D1" "$D2"
expect_ok
expect_out '^Comparing 2 dumps of pid 4242'
expect_out '2: .*demo-2.txt  2026-11-27T15:20:41.300Z  7 tasks \(\+2 new, -1 finished\)'
section 'Stuck:' >"$WORK/stuck"
grep -q 'block_on (idle, 3 polls) idle 5.1s -> 15.3s' "$WORK/stuck" || fail "stuck block_on"
grep -q 'task 6 "fanout" (notified, 2 polls)' "$WORK/stuck" || fail "stuck fanout"
grep -q 'task 7 "stuck" (running, 1 poll)' "$WORK/stuck" || fail "stuck in a poll"
grep -q '^  task 3 ' "$WORK/stuck" && fail "the ticker moved"
section 'New since' >"$WORK/new"
[ "$(grep -c '^  task' "$WORK/new")" -eq 2 ] || fail "new tasks"
grep -q 'task 8 "client"' "$WORK/new" || fail "new task 8"
section 'Finished since' >"$WORK/gone"
grep -q 'task 4 "client" (idle, 12 polls)' "$WORK/gone" || fail "finished"
section 'Grown:' >"$WORK/grown"
grep -Eq '^ +\+1  2 -> 3  client_poll > td_io_poll \[io\]' "$WORK/grown" || fail "grown"

# Mixed formats; one dump in two formats is compared, with a warning:
# nothing moved.
"$TD" show -f json "$D2" >"$WORK/d2.json"
run "$TD" diff "$D1" "$WORK/d2.json"
expect_ok
expect_out '^Stuck: .*\(3\)$'
run "$TD" diff "$D2" "$WORK/d2.json"
expect_rc 0
[ "$(wc -l <"$ERR")" -eq 1 ] || fail "one warning expected"
grep -q '^taskdump: warning: .*demo-2.txt and .*d2.json have the same time 2026-11-27T15:20:41.300Z' "$ERR" ||
	fail "same-time warning"
expect_out '^Stuck: .*\(7\)$'
expect_out '^New since .*\(0\)$'

# Refused: one file twice (by name, through a link, a hard link), out of
# time order (1); another program with the same pid (2).  Nothing on
# stdout.
ln -s "$D2" "$WORK/link.txt"
ln "$WORK/d2.json" "$WORK/hard.json"
run "$TD" diff "$D2" "$D2"
expect_error 1 "diff: .*demo-2.txt is given twice"
[ ! -s "$OUT" ] || fail "a refusal printed a report"
run "$TD" diff "$D1" "$D2" "$D1"
expect_error 1 "demo-1.txt is given twice"
run "$TD" diff "$D2" "$WORK/link.txt"
expect_error 1 "demo-2.txt and .*link.txt are the same file"
run "$TD" diff "$D1" "$WORK/d2.json" "$WORK/hard.json"
expect_error 1 "d2.json and .*hard.json are the same file"
run "$TD" diff "$D2" "$D1"
expect_error 1 'demo-1.txt \(2026-11-27T15:20:31.123Z\) is older than .*demo-2.txt \(2026-11-27T15:20:41.300Z\): give the dumps oldest first'
[ ! -s "$OUT" ] || fail "a refusal printed a report"
sed 's/^program .*/program \/usr\/bin\/other/' "$D2" >"$WORK/prog.txt"
run "$TD" diff "$D1" "$WORK/prog.txt"
expect_error 2 'different programs \(/usr/local/bin/taskdump-demo and /usr/bin/other\)'
# Time zones and fractions: 15:20:31.123Z is before 15:20:31.2Z; no time
# at all cannot be checked (a warning).
sed 's/^time .*/time 2026-11-27T15:20:31.2Z/' "$D2" >"$WORK/frac.txt"
run "$TD" diff "$D1" "$WORK/frac.txt"
expect_ok
sed 's/^time .*/time 2026-11-27T15:20:31.12Z/' "$D2" >"$WORK/early.txt"
run "$TD" diff "$D1" "$WORK/early.txt"
expect_error 1 'is older than'
grep -v '^time ' "$D2" >"$WORK/untimed.txt"
run "$TD" diff "$D1" "$WORK/untimed.txt"
expect_rc 0
grep -q '^taskdump: warning: not every dump has a time' "$ERR" ||
	fail "no-time warning"

# A series: what never moved across all three.
sed -e 's/^task 6 name="fanout" state=notified queue=local queue_worker=0 polls=2/task 6 name="fanout" state=idle polls=3/' \
    -e 's/^time .*/time 2026-11-27T15:20:51.000Z/' "$D2" >"$WORK/d3.txt"
run "$TD" diff "$D1" "$D2" "$WORK/d3.txt"
expect_ok
expect_out '^Comparing 3 dumps'
expect_out '^Never moved: same trace, not polled across all 3 dumps \(2\)$'
run "$TD" diff --top 1 "$D1" "$D2"
expect_out '^  \.\.\. and 2 more$'

# Dumps of different processes are not compared.
sed 's/^pid 4242$/pid 77/' "$D2" >"$WORK/other.txt"
run "$TD" diff "$D1" "$WORK/other.txt"
expect_error 2 'different processes \(pid 4242 and 77\)'

# fold: sorted, counted, summed over files, optional wait kind.
run "$TD" fold "$D1"
expect_ok
cat >"$WORK/want" <<'FOLD'
client_poll;td_io_poll 2
demo_main_poll;td_join_poll 1
fanout_poll;td_join_all_poll;child_poll;td_mutex_lock_poll 1
fanout_poll;td_join_all_poll;child_poll;td_oneshot_recv_poll 1
fanout_poll;td_join_all_poll;child_poll;td_sleep_poll 1
ticker_poll;td_sleep_poll 1
FOLD
diff -u "$WORK/want" "$OUT" >&2 || fail "fold output"
run "$TD" fold "$D1" "$D2"
expect_out '^client_poll;td_io_poll 5$'
run "$TD" fold --wait "$D1"
expect_out '^client_poll;td_io_poll;\[io\] 2$'
expect_out '^fanout_poll;td_join_all_poll;child_poll;td_mutex_lock_poll;\[mutex\] 1$'
# Every line is "stack count" (what flamegraph.pl expects).
awk '!/^[^ ;]+(;[^;]+)* [0-9]+$/ {exit 1}' "$OUT" || fail "fold syntax"
done_ok
