#!/bin/bash
# test_deadlocks.sh TASKDUMP DATA - the wait-for graph, held locks and
# deadlocks in `taskdump show`: read from both formats, written back the
# same, `--deadlocks` and `--summary`; dumps without them read as before.
. "$(dirname "$0")/lib.sh"
DATA=$2
DL=$DATA/deadlock.txt

# Text in, text out (ungrouped: the file is as the runtime wrote it).
run "$TD" show --no-group "$DL"
expect_ok
cmp -s "$OUT" "$DL" || fail "show of deadlock.txt differs from it"

# Through JSON and back: the same facts.
run "$TD" show -f json "$DL"
expect_ok
cp "$OUT" "$WORK/dl.json"
python3 - "$WORK/dl.json" <<'PY' || fail "JSON deadlock section"
import json, sys
d = json.load(open(sys.argv[1]))
dl = d["deadlocks"]
assert [m["task"] for m in dl[0]["tasks"]] == [1, 3, 2], dl
assert dl[0]["tasks"][1]["holds"] == [{"kind": "mutex",
    "object": "0x5581e2a0", "held_ms": 4, "waiters": 1, "permits": None,
    "others": None}], dl
assert dl[0]["tasks"][0]["waits_for"] == {"task": 3,
    "why": "mutex 0x5581e2a0 held"}, dl
t = {t["id"]: t for t in d["runtimes"][0]["tasks"] if not t["block_on"]}
assert t[2]["waits_for"] == [{"task": 1, "why": "join"}], t[2]
assert t[3]["holds"][0]["waiters"] == 1 and t[1]["holds"] == [], t
PY
run "$TD" show --no-group "$WORK/dl.json"
expect_ok
cmp -s "$OUT" "$DL" || fail "text -> JSON -> text changed the dump"
run "$TD" show -f json "$WORK/dl.json"
expect_ok
cmp -s "$OUT" "$WORK/dl.json" || fail "JSON -> JSON is not stable"

# --deadlocks: the three members, not the block_on future; the section
# stays whole.
run "$TD" show --deadlocks "$DL"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 3 ] || fail "--deadlocks: 3 tasks"
expect_no_out '^task 0 '
expect_out '^tasks 3$'
expect_out '^deadlock 1 task=2 name="t2" waits_for="task 1: join"$'
run "$TD" show --deadlocks --task 3 "$DL"
[ "$(grep -c '^task ' "$OUT")" -eq 1 ] || fail "--deadlocks AND --task"
run "$TD" show --deadlocks "$DATA/demo-1.txt"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 0 ] || fail "--deadlocks of a dump without"

# --summary: the deadlock first, every member with what it holds and
# waits for.
run "$TD" show --summary "$DL"
expect_ok
cat > "$WORK/want" <<'TXT'
Found 1 deadlock
  deadlock 1 (3 tasks):
    task 1 "t3" holds nothing known
      and waits for task 3: mutex 0x5581e2a0 held
    task 3 "t1" holds mutex 0x5581e2a0 (held 4 ms, 1 waiting)
      and waits for task 2: join
    task 2 "t2" holds nothing known
      and waits for task 1: join
TXT
sed -n '4,11p' "$OUT" > "$WORK/got"
cmp -s "$WORK/got" "$WORK/want" || fail "summary deadlock section: $(diff "$WORK/want" "$WORK/got")"
sed -n 3p "$OUT" | grep -q '^$' || fail "summary: blank line before the deadlocks"
line_found=$(grep -n '^Found 1 deadlock' "$OUT" | cut -d: -f1)
line_state=$(grep -n '^Tasks by state' "$OUT" | cut -d: -f1)
[ "$line_found" -lt "$line_state" ] || fail "deadlocks not first"
run "$TD" show --summary "$DATA/demo-1.txt"
expect_ok
expect_no_out 'deadlock'

# A dump with many deadlocks: the summary stays on one screen.
awk '/^deadlocks 1$/ { print "deadlocks 7"; next }
     /^deadlock 1 / { d[n++] = $0; print; next }
     /^$/ && !done { for (k = 2; k <= 7; k++) for (i = 0; i < n; i++) {
		line = d[i]; sub(/^deadlock 1 /, "deadlock " k " ", line)
		print line }
	done = 1 }
     { print }' "$DL" > "$WORK/many.txt"
run "$TD" show --no-group "$WORK/many.txt"
expect_ok
cmp -s "$OUT" "$WORK/many.txt" || fail "seven deadlocks do not read back"
run "$TD" show --summary "$WORK/many.txt"
expect_ok
expect_out '^Found 7 deadlocks$'
expect_out '^  deadlock 5 \(3 tasks\):$'
expect_no_out '^  deadlock 6 '
expect_out '^  \(2 more deadlocks: taskdump show --deadlocks\)$'

# Semaphore permits and a mutex nobody waits for (locks.txt): text and
# JSON read back the same, both ways; the summary names the permits.
LK=$DATA/locks.txt
run "$TD" show --no-group "$LK"
expect_ok
cmp -s "$OUT" "$LK" || fail "show of locks.txt differs from it"
run "$TD" show -f json "$LK"
expect_ok
cp "$OUT" "$WORK/lk.json"
python3 - "$WORK/lk.json" <<'PY' || fail "JSON semaphore holds"
import json, sys
d = json.load(open(sys.argv[1]))
t = {t["id"]: t for t in d["runtimes"][0]["tasks"] if not t["block_on"]}
assert t[1]["holds"] == [{"kind": "semaphore", "object": "0x5581e440",
    "held_ms": 12, "waiters": 1, "permits": 1, "others": 0}], t[1]
assert t[3]["holds"][0]["permits"] is None, t[3]
assert t[3]["holds"][1] == {"kind": "semaphore", "object": "0x5581e4e0",
    "held_ms": 90, "waiters": 0, "permits": 2, "others": 3}, t[3]
assert d["deadlocks"][0]["tasks"][1]["waits_for"] == {"task": 1,
    "why": "semaphore 0x5581e440 permits held"}, d["deadlocks"]
PY
run "$TD" show --no-group "$WORK/lk.json"
expect_ok
cmp -s "$OUT" "$LK" || fail "locks: text -> JSON -> text changed the dump"
run "$TD" show -f json "$WORK/lk.json"
expect_ok
cmp -s "$OUT" "$WORK/lk.json" || fail "locks: JSON -> JSON is not stable"
run "$TD" show --summary "$LK"
expect_ok
expect_out '^    task 1 "a" holds semaphore 0x5581e440 \(1 permit, held 12 ms, 1 waiting\)$'
sed 's/2 permits held 90 ms/2 permitz held 90 ms/' "$LK" > "$WORK/bad3.txt"
run "$TD" show "$WORK/bad3.txt"
expect_error 2 'bad3.txt:.*holds'

# Malformed diagnosis values are errors naming the line.
sed 's/waits_for="task 2: join"/waits_for="2: join"/' "$DL" > "$WORK/bad.txt"
run "$TD" show "$WORK/bad.txt"
expect_error 2 'bad.txt:.*waits_for'
sed 's/held 4 ms, 1 waiting/held 4 ms/' "$DL" > "$WORK/bad2.txt"
run "$TD" show "$WORK/bad2.txt"
expect_error 2 'bad2.txt:.*holds'

echo "ok: $CHECKS checks"
