#!/bin/bash
# test_agree.sh TASKDUMP AGREE_APP - the text and the JSON dump of one
# process tell the same story: `taskdump show` of either gives the same
# groups, the same tasks and the same waits (agree_app.c writes both from
# one live dump, with waits that only their identity tells apart).
#
#  1. `show` (grouped) of the text and of the JSON dump are identical, and
#     identical to the runtime's own grouped text: every reader groups as
#     the runtime does;
#  2. `show --no-group` of the JSON is the runtime's ungrouped text, byte
#     for byte;
#  3. `show --format json` of both: per task, every wait field the text
#     format carries is equal (kind, object, fd, events, label, task, count,
#     value, text);
#  4. the groups are the expected ones: each reader and guarded task alone
#     (its own socket), the three lockers of one mutex together, the two of
#     different mutexes apart, the sleepers together, and so on.
. "$(dirname "$0")/lib.sh"
APP=$2

run "$APP" "$WORK"
expect_ok

run "$TD" show "$WORK/dump.txt"
expect_ok
cp "$OUT" "$WORK/show-text"
run "$TD" show "$WORK/dump.json"
expect_ok
cp "$OUT" "$WORK/show-json"
diff -u "$WORK/show-text" "$WORK/show-json" >&2 ||
	fail "show of the text and of the JSON dump differ"
diff -u "$WORK/dump-grouped.txt" "$WORK/show-text" >&2 ||
	fail "show groups differently from the runtime"

run "$TD" show --no-group "$WORK/dump.json"
expect_ok
diff -u "$WORK/dump.txt" "$OUT" >&2 ||
	fail "show --no-group of the JSON is not the runtime's text"

run "$TD" show --no-group --format json "$WORK/dump.txt"
expect_ok
cp "$OUT" "$WORK/text.json"
run "$TD" show --no-group --format json "$WORK/dump.json"
expect_ok
cp "$OUT" "$WORK/json.json"

python3 - "$WORK/text.json" "$WORK/json.json" "$WORK/show-text" <<'PY' ||
import json, re, sys

KEYS = ('kind', 'object', 'fd', 'events', 'label', 'task_id', 'count',
        'value', 'text')


def waits(path):
    with open(path) as f:
        d = json.load(f)
    out = {}
    for rt in d['runtimes']:
        for t in rt['tasks']:
            out[t['id']] = (t['name'], [
                {k: tr['wait'].get(k) for k in KEYS} for tr in t['traces']])
    return out


a, b = waits(sys.argv[1]), waits(sys.argv[2])
bad = []
if sorted(a) != sorted(b):
    bad.append('task ids differ: %s / %s' % (sorted(a), sorted(b)))
for tid in sorted(set(a) & set(b)):
    if a[tid] != b[tid]:
        bad.append('task %d: text %r\n          json %r' % (tid, a[tid],
                                                            b[tid]))
# The groups of the grouped text: task lines that share one tree.
groups, cur = [], []
for line in open(sys.argv[3]):
    m = re.match(r'^task (\d+) name="([^"]*)"', line)
    if m:
        cur.append(m.group(2))
    elif line == '\n' and cur:
        groups.append(cur)
        cur = []
want = [['reader'], ['reader'], ['reader'], ['guarded'], ['guarded'],
        ['locker'] * 3, ['locker2'], ['locker2'], ['sleeper'] * 3,
        ['notified'] * 2, ['noleaf'] * 2, ['gate'], ['gate_obj'] * 2]
if groups != want:
    bad.append('groups %r, expected %r' % (groups, want))
gate = [w for n, ws in a.values() if n == 'gate' for w in ws]
if [w['text'] for w in gate] != ['gate'] or gate[0]['object'] is not None:
    bad.append('a TD_WAIT_OTHER wait without object: %r' % gate)
for n, ws in a.values():
    for w in ws:
        if w['kind'] == 'io' and not w['object']:
            bad.append('%s: io wait without its object: %r' % (n, w))
if bad:
    print('\n'.join(bad), file=sys.stderr)
    sys.exit(1)
PY
	fail "the text and the JSON dump disagree"
done_ok
