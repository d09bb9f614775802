#!/bin/bash
# test_e2e_dump.sh TASKDUMP DEMO AGENT DATA - `taskdump dump` on a live
# demo under the agent, in both formats, and every reading verb on the
# dumps it takes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

D=$WORK/dumps
mkdir "$D"
start_demo demo "$WORK" TASKDUMP_DIR="$D"
PID=$DEMO_PID

# Text, as the agent wrote it.
run "$TD" dump "$PID"
expect_ok
expect_out '^taskdump 1$'
expect_out "^pid $PID$"
expect_out '^runtime 1 name="demo" flavor=multi_thread'
expect_out '^task [0-9]+ name="config-watcher" state=idle'
[ -f "$D/taskdump-$PID-1.txt" ] || fail "no taskdump-$PID-1.txt"
cmp -s "$OUT" "$D/taskdump-$PID-1.txt" || fail "output differs from the file"
alive "$PID" || fail "the demo died"

# Converted to JSON; and written to a file.
run "$TD" dump --format json "$PID"
expect_ok
cp "$OUT" "$WORK/2.json"
json_check "$WORK/2.json" "d['taskdump'] == 1 and d['pid'] == $PID and len(d['runtimes'][0]['tasks']) > 5"
run "$TD" dump -o "$WORK/3.json" -f json --timeout 20s "$PID"
expect_ok
[ ! -s "$OUT" ] || fail "-o printed something"
json_check "$WORK/3.json" "d['pid'] == $PID"
ls -a "$WORK" | grep -q '^\.taskdump\.' && fail "temporary file left behind"
run "$TD" dump -o "$WORK/4.txt" "$PID"
expect_ok
cmp -s "$WORK/4.txt" "$D/taskdump-$PID-4.txt" || fail "-o text differs"
# -o through a symbolic link replaces its target; a device is written to.
: >"$WORK/target.txt"
ln -s target.txt "$WORK/link.txt"
run "$TD" dump -o "$WORK/link.txt" "$PID"
expect_ok
[ -L "$WORK/link.txt" ] || fail "-o replaced the symbolic link"
cmp -s "$WORK/target.txt" "$D/taskdump-$PID-5.txt" || fail "-o via a link"
run "$TD" dump -o /dev/stdout "$PID"
expect_ok
cmp -s "$OUT" "$D/taskdump-$PID-6.txt" || fail "-o /dev/stdout"
run "$TD" dump -o /nonexistent/dir/x.txt "$PID"
expect_error 5 'cannot create /nonexistent/dir/x.txt'

# Every reading verb on real dumps.
D1=$D/taskdump-$PID-1.txt
D4=$D/taskdump-$PID-4.txt
for f in "$D1" "$WORK/2.json"; do
	run "$TD" show "$f";                expect_ok; expect_out '^task '
	run "$TD" show --no-group "$f";     expect_ok
	run "$TD" show -f json "$f";        expect_ok
	run "$TD" show --summary "$f";      expect_ok
	expect_out 'runtime 1 "demo" \(multi_thread, 2 workers\): [0-9]+ tasks'
	expect_out '^Most common traces'
	run "$TD" show --name config-watcher "$f"
	expect_ok
	[ "$(grep -c '^task ' "$OUT")" -eq 1 ] || fail "--name config-watcher"
	expect_out 'config_watcher_poll'
	run "$TD" show --grep '^listener_poll$' --state idle "$f"
	expect_ok
	expect_out 'name="listener"'
	run "$TD" fold "$f"
	expect_ok
	# (leaf names are the runtime's: only the demo's frames are fixed)
	expect_out '^config_watcher_poll;await_reload_poll;[a-z_]+ 1$'
	expect_out '^ticker_poll;[a-z_]*sleep[a-z_]* 1$'
done
# The text of the JSON dump is what the agent writes (ungrouped).
run "$TD" show --no-group "$D/taskdump-$PID-2.txt"
cp "$OUT" "$WORK/2.txt"
cmp -s "$WORK/2.txt" "$D/taskdump-$PID-2.txt" ||
	fail "show --no-group differs from the agent's text"

# diff: the config watcher waits for a reload that never comes.
run "$TD" diff "$D1" "$WORK/2.json" "$D4"
expect_ok
expect_out '^Comparing 3 dumps of pid '"$PID"
awk '/^Never moved/ {p=1; next} /^$/ {p=0} p' "$OUT" >"$WORK/stuck"
grep -q '"config-watcher"' "$WORK/stuck" || fail "config-watcher not stuck"
grep -q '"ticker"' "$WORK/stuck" && fail "the ticker is not stuck"
stop_demo "$PID"

# A second demo: JSON files, another signal, a relative directory, and a
# current-thread runtime.  Sending SIGUSR1 would kill it: it is alive
# afterwards only if taskdump sent SIGUSR2.
mkdir -p "$WORK/cwd/rel"
start_demo demo2 "$WORK/cwd" TASKDUMP_DIR=rel TASKDUMP_FORMAT=json \
	TASKDUMP_SIGNAL=usr2 -- --current-thread
PID=$DEMO_PID
run "$TD" dump "$PID"
expect_ok
[ -f "$WORK/cwd/rel/taskdump-$PID-1.json" ] || fail "no JSON dump in rel/"
cmp -s "$OUT" "$WORK/cwd/rel/taskdump-$PID-1.json" || fail "raw JSON"
json_check "$OUT" "d['runtimes'][0]['flavor'] == 'current_thread'"
run "$TD" dump --format text "$PID"
expect_ok
expect_out '^runtime 1 name="demo" flavor=current_thread'
alive "$PID" || fail "the demo died: taskdump sent the wrong signal"
stop_demo "$PID"

# No TASKDUMP_DIR: the process's working directory; a bad signal name
# falls back to SIGUSR1 (as the agent does).
mkdir "$WORK/cwd3"
start_demo demo3 "$WORK/cwd3" TASKDUMP_SIGNAL=SIGBOGUS
PID=$DEMO_PID
run "$TD" dump "$PID"
expect_ok
[ -f "$WORK/cwd3/taskdump-$PID-1.txt" ] || fail "no dump in the cwd"
alive "$PID" || fail "the demo died"
stop_demo "$PID"
done_ok
