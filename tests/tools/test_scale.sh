#!/bin/bash
# test_scale.sh TASKDUMP SCALE_APP - every verb on a real dump of 100 000
# tasks (half of them with a trace of their own), text and JSON, each in
# a generous 20 s (bench/tool_scale.sh measures the real figures: well
# under a second); and a JSON dump larger than the 256 MiB the tool once
# refused (the same dump, padded with white space) reads the same.
. "$(dirname "$0")/lib.sh"
SCALE_APP=$2
N=100000

run "$SCALE_APP" "$WORK" "$N"
expect_ok
for f in "$WORK/dump.txt" "$WORK/dump.json"; do
	for verb in "show" "show --no-group" "show --format json" \
		    "show --summary" "fold" "fold --wait" \
		    "show --task 5" "show --name 'x*'" "show --state idle" \
		    "show --grep idler_poll" "show --min-idle 1ms" \
		    "show --deadlocks"; do
		run timeout 20 bash -c "'$TD' $verb '$f' > '$WORK/out'"
		expect_ok
	done
	# diff refuses one file twice (and warns on equal times): a later copy
	sed -e "s/^time 20/time 21/" -e "s/\"time\":\"20/\"time\":\"21/" "$f" > "$f.again"
	run timeout 20 "$TD" diff "$f" "$f.again"
	expect_ok
	grep -q "^Stuck: .* ($N)\$" "$OUT" ||
		fail "diff: not every task stuck: $(grep Stuck "$OUT")"
done
# Both readers see every task.
run "$TD" show --summary "$WORK/dump.json"
expect_ok
grep -q "^  $N tasks in 1 runtime" "$OUT" || fail "JSON: task count"
# One screen (issue 11): the summary of 100 000 tasks is a few dozen lines.
[ "$(wc -l < "$OUT")" -le 60 ] || fail "summary: $(wc -l < "$OUT") lines"
# The compact view: the sleeping third of the tasks is one block, its ids
# abbreviated after eight ranges.
run timeout 20 "$TD" show --compact "$WORK/dump.txt"
expect_ok
grep -Eq "^[0-9]{5} tasks: ([0-9]+, ){7}[0-9]+, \.\.\. \([0-9]+ more\) state=idle idle_ms=[0-9]+(\.\.[0-9]+)?$" "$OUT" ||
	fail "compact: no block of the sleeping tasks"
[ "$(grep -c '^task ' "$OUT")" -lt "$N" ] || fail "compact: every task listed"
run "$TD" show --format json "$WORK/dump.txt"
expect_ok
cp "$OUT" "$WORK/from-text.json"
run "$TD" fold "$WORK/dump.txt"
expect_ok
cp "$OUT" "$WORK/fold-text"
run "$TD" fold "$WORK/dump.json"
expect_ok
cmp -s "$OUT" "$WORK/fold-text" || fail "fold: text and JSON differ"

# A diagnosis as big as the dump: a task warning for every task and one
# deadlock ring through all of them, in the header (text: a line each).
# Reading it, the compact view (a warned member gets its own line) and
# diff are O(n log n): they were quadratic (a header array grown by one
# copy per line, a scan of the warnings per task).  Memory is limited so
# that a quadratic reader fails fast instead of taking the machine (not
# under ASan, which reserves terabytes of address space: the timeout
# still catches it).
LIMIT="ulimit -v 4000000;"
ldd "$TD" | grep -q libasan && LIMIT=""
python3 - "$WORK/dump.txt" "$WORK/diag.txt" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split('\n')
ids = [int(m.group(1)) for l in lines
       for m in [re.match(r'task (\d+) ', l)] if m and ' block_on=1' not in l]
head = ['deadlocks 1'] + [
    'deadlock 1 task=%d waits_for="task %d: mutex 0x1000 held"'
    % (t, ids[(i + 1) % len(ids)]) for i, t in enumerate(ids)]
head += ['task_warnings %d' % len(ids)] + [
    'task_warning info long-wait runtime=1 task=%d evidence="waited %d ms"'
    % (t, t) for t in ids]
out, done = [], False
for l in lines:
    if l.startswith(('deadlock', 'task_warning')):
        continue
    if l.startswith('runtimes ') and not done:
        out.append(l)
        continue
    if l.startswith('tasks ') and not done:
        out.append(l)
        out.extend(head)
        done = True
        continue
    out.append(l)
open(sys.argv[2], 'w').write('\n'.join(out))
PY
run bash -c "$LIMIT timeout 20 '$TD' show --format json '$WORK/diag.txt' > '$WORK/diag.json'"
expect_ok
sed -e "s/^time 20/time 21/" "$WORK/diag.txt" > "$WORK/diag-later.txt"
for f in "$WORK/diag.txt" "$WORK/diag.json"; do
	for verb in "show --compact" "show --warnings" "show --deadlocks" \
		    "show --summary"; do
		run bash -c "$LIMIT timeout 20 '$TD' $verb '$f' > '$WORK/out'"
		expect_ok
	done
done
run bash -c "$LIMIT timeout 20 '$TD' show --compact '$WORK/diag.txt'"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -ge $((N - 10)) ] ||
	fail "compact: the warned tasks' own lines are missing"
run bash -c "$LIMIT timeout 20 '$TD' diff '$WORK/diag.txt' '$WORK/diag-later.txt'"
expect_ok

# Over 256 MiB: spaces after the opening brace, to 270 000 000 bytes.
pad=$((270000000 - $(stat -c %s "$WORK/dump.json")))
{ printf '{'; head -c "$pad" /dev/zero | tr '\0' ' '
  tail -c +2 "$WORK/dump.json"; } >"$WORK/big.json"
[ "$(stat -c %s "$WORK/big.json")" -gt 268435456 ] || fail "big.json is small"
run timeout 60 "$TD" fold "$WORK/big.json"
expect_ok
cmp -s "$OUT" "$WORK/fold-text" || fail "the padded JSON reads differently"
rm -f "$WORK/big.json"
done_ok
