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

# The diagnosis, first dump to last: deadlocks (a set of member tasks,
# whichever member the cycle is listed from) and task warnings (runtime,
# task and kind) that are new, persisting or gone.  From the real
# deadlock dump: the deadlock listed from another member a minute later,
# and an earlier dump of the process before it formed; task warnings
# added to the headers (one stays with new evidence, one goes, one
# comes).
DL=$DATA/deadlock.txt
python3 - "$DL" "$WORK" <<'PY'
import sys
lines = open(sys.argv[1]).read().split('\n')
dl = [l for l in lines if l.startswith('deadlock ')]
rest = [l for l in lines if not l.startswith(('deadlock', 'task_warning'))]
def dump(name, time, deadlock, warnings):
    out = []
    for l in rest:
        if l.startswith('time '):
            l = 'time ' + time
        out.append(l)
        if l.startswith('tasks '):
            if deadlock:
                out += ['deadlocks 1'] + deadlock
            if warnings:
                out += ['task_warnings %d' % len(warnings)] + [
                    'task_warning ' + w for w in warnings]
    open(sys.argv[2] + '/' + name, 'w').write('\n'.join(out))
w_poll = 'warning long-poll runtime=1 task=3 name="t1" evidence="in one poll for 150 ms"'
w_wait = 'info long-wait runtime=1 task=1 name="t3" evidence="waiting for %d ms"'
w_lost = 'error lost-wakeup runtime=1 task=2 name="t2" evidence="no waker of it is registered anywhere"'
dump('dl-0.txt', '2026-12-03T07:50:57.328Z', None, [w_poll, w_wait % 100])
dump('dl-1.txt', '2026-12-03T07:51:57.328Z', dl, [w_poll, w_wait % 60100])
dump('dl-2.txt', '2026-12-03T07:52:57.328Z', dl[1:] + dl[:1], [w_lost, w_wait % 120100])
PY
run "$TD" diff "$WORK/dl-0.txt" "$WORK/dl-1.txt"
expect_ok
section 'Deadlocks since' >"$WORK/dls"
grep -q '^Deadlocks since .*dl-0.txt: 1 new, 0 persisting, 0 gone$' "$OUT" || fail "deadlock counts (new)"
[ "$(cat "$WORK/dls")" = '  deadlock (new), 3 tasks: task 1 "t3" -> task 3 "t1" -> task 2 "t2"' ] ||
	fail "new deadlock: $(cat "$WORK/dls")"
section 'Task warnings since' >"$WORK/tws"
cat >"$WORK/want" <<'WANT'
  persisting: long-poll (warning), task 3 "t1": in one poll for 150 ms
  persisting: long-wait (info), task 1 "t3": waiting for 60100 ms
WANT
diff -u "$WORK/want" "$WORK/tws" >&2 || fail "persisting warnings"
run "$TD" diff "$WORK/dl-1.txt" "$WORK/dl-2.txt"
expect_ok
grep -q '^Deadlocks since .*dl-1.txt: 0 new, 1 persisting, 0 gone$' "$OUT" || fail "deadlock counts (persisting)"
section 'Deadlocks since' >"$WORK/dls"
[ "$(cat "$WORK/dls")" = '  deadlock (persisting), 3 tasks: task 3 "t1" -> task 2 "t2" -> task 1 "t3"' ] ||
	fail "persisting deadlock (listed from another member): $(cat "$WORK/dls")"
grep -q '^Task warnings since .*dl-1.txt: 1 new, 1 persisting, 1 gone$' "$OUT" || fail "warning counts"
section 'Task warnings since' >"$WORK/tws"
cat >"$WORK/want" <<'WANT'
  new: lost-wakeup (error), task 2 "t2": no waker of it is registered anywhere
  persisting: long-wait (info), task 1 "t3": waiting for 120100 ms
  gone: long-poll (warning), task 3 "t1": in one poll for 150 ms
WANT
diff -u "$WORK/want" "$WORK/tws" >&2 || fail "new, persisting and gone warnings"
# A series compares the first dump with the last; JSON says the same.
for f in dl-0 dl-1 dl-2; do "$TD" show -f json "$WORK/$f.txt" >"$WORK/$f.json"; done
run "$TD" diff "$WORK/dl-0.json" "$WORK/dl-1.json" "$WORK/dl-2.json"
expect_ok
grep -q '^Deadlocks since .*dl-0.json: 1 new, 0 persisting, 0 gone$' "$OUT" || fail "series: deadlock counts"
grep -q '^Task warnings since .*dl-0.json: 1 new, 1 persisting, 1 gone$' "$OUT" || fail "series: warning counts"
# Gone, and --top.
sed -e '/^deadlock/d' -e 's/^time .*/time 2026-12-03T07:59:00.000Z/' "$WORK/dl-2.txt" >"$WORK/dl-3.txt"
run "$TD" diff "$WORK/dl-2.txt" "$WORK/dl-3.txt"
expect_ok
section 'Deadlocks since' >"$WORK/dls"
[ "$(cat "$WORK/dls")" = '  deadlock (gone), 3 tasks: task 3 "t1" -> task 2 "t2" -> task 1 "t3"' ] ||
	fail "gone deadlock: $(cat "$WORK/dls")"
run "$TD" diff --top 1 "$WORK/dl-1.txt" "$WORK/dl-2.txt"
section 'Task warnings since' >"$WORK/tws"
[ "$(sed -n 2p "$WORK/tws")" = '  ... and 2 more' ] || fail "--top 1 warnings: $(cat "$WORK/tws")"

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
