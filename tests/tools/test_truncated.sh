#!/bin/bash
# test_truncated.sh TASKDUMP AGREE_APP - a real text dump (agree_app.c's)
# cut at every line end inside its last entry - the task line, the tree
# half written, the tree without the blank line that closes the block -
# is refused as truncated (status 2, one line), never read with the last
# trace invented (its header counts are still right); whole, it reads.
. "$(dirname "$0")/lib.sh"
APP=$2

run "$APP" "$WORK"
expect_ok
dump=$WORK/dump.txt
run "$TD" show --no-group "$dump"
expect_ok
cmp -s "$OUT" "$dump" || fail "the whole dump does not read back"

total=$(wc -l <"$dump")
last_task=$(grep -n '^task ' "$dump" | tail -1 | cut -d: -f1)
[ "$last_task" -gt 1 ] || fail "no task line in the dump"
# Line `total` is the closing blank line: cut after every line before it,
# from the last task line on.
cuts=0
for ((n = last_task; n < total; n++)); do
	head -n "$n" "$dump" >"$WORK/cut.txt"
	for verb in show "show --format json" fold; do
		run "$TD" $verb "$WORK/cut.txt"
		expect_error 2 "cut\.txt: truncated"
		[ ! -s "$OUT" ] || fail "'$LAST' printed something"
	done
	cuts=$((cuts + 1))
done
[ "$cuts" -ge 3 ] || fail "only $cuts cuts in the last entry"
done_ok
