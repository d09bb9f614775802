#!/bin/bash
# test_warnings.sh TASKDUMP DATA - task counters and warnings in
# `taskdump show`: read from both formats and written back the same,
# `--warnings[=WHAT]` and `--summary` (warnings right after the deadlocks,
# by severity); dumps without them read as before.  The fixtures are real
# dumps of tests/unit/trace/test_dump_warnings.c (TD_WARNINGS_SAVE).
. "$(dirname "$0")/lib.sh"
DATA=$2
ST=$DATA/warnings-starved.txt
LW=$DATA/warnings-lost.txt

for f in "$ST" "$LW"; do
	# Text in, text out; through JSON and back: the same bytes.
	run "$TD" show --no-group "$f"
	expect_ok
	cmp -s "$OUT" "$f" || fail "show of $(basename "$f") differs from it"
	run "$TD" show -f json "$f"
	expect_ok
	cp "$OUT" "$WORK/w.json"
	run "$TD" show --no-group "$WORK/w.json"
	expect_ok
	cmp -s "$OUT" "$f" || fail "$(basename "$f"): text -> JSON -> text"
	run "$TD" show -f json "$WORK/w.json"
	expect_ok
	cmp -s "$OUT" "$WORK/w.json" || fail "JSON -> JSON is not stable"
done

# The JSON has the warnings and every task's counters.
run "$TD" show -f json "$ST"
python3 - "$OUT" <<'PY' || fail "JSON task warnings"
import json, sys
d = json.load(open(sys.argv[1]))
w = d["task_warnings"]
assert [x["kind"] for x in w] == ["long-poll", "starved", "never-polled"], w
assert all(x["severity"] == "warning" and x["runtime"] == 1 for x in w), w
assert d["task_warnings_found"] == 3, d["task_warnings_found"]
t = {t["id"]: t for t in d["runtimes"][0]["tasks"] if not t["block_on"]}
assert t[2]["woken_ms"] >= 300 and t[3]["woken_ms"] >= 300, t
PY

# --warnings: by kind, by severity, any; the header stays whole.
run "$TD" show --warnings "$ST"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 3 ] || fail "--warnings: 3 tasks"
expect_no_out '^task 0 '
expect_out '^task_warnings 3$'
run "$TD" show --warnings=starved "$ST"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 1 ] || fail "--warnings=starved: 1 task"
expect_out '^task 2 name="woken" state=notified '
run "$TD" show --warnings=error "$ST"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 0 ] || fail "--warnings=error: none"
run "$TD" show --warnings=error "$LW"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 1 ] || fail "lost: --warnings=error"
expect_out '^task 1 name="forgetful" .* wakers=0 '
run "$TD" show --warnings=bogus "$ST"
expect_error 1 'expected a kind'
run "$TD" show --warnings "$DATA/demo-1.txt"
expect_ok
[ "$(grep -c '^task ' "$OUT")" -eq 0 ] || fail "--warnings of a dump without"

# --summary: the warnings after the header lines, before the states.
run "$TD" show --summary "$ST"
expect_ok
cat > "$WORK/want" <<'TXT'
Found 3 task warnings: 3 warnings
  long-poll (warning), 1 task:
TXT
sed -n '4,5p' "$OUT" > "$WORK/got"
cmp -s "$WORK/got" "$WORK/want" || fail "summary warnings: $(diff "$WORK/want" "$WORK/got")"
expect_out '^    task 2 "woken": woken [0-9]+ ms ago and not polled since'
l_found=$(grep -n '^Found 3 task warnings' "$OUT" | cut -d: -f1)
l_state=$(grep -n '^Tasks by state' "$OUT" | cut -d: -f1)
[ "$l_found" -lt "$l_state" ] || fail "warnings not before the states"
run "$TD" show --summary "$LW"
expect_ok
expect_out '^Found 1 task warning: 1 error$'
expect_out '^  lost-wakeup \(error\), 1 task:$'
run "$TD" show --summary "$DATA/demo-1.txt"
expect_ok
expect_no_out 'task warning'

# Many warnings of one kind: three shown, the rest counted.
awk '/^task_warnings 3$/ { print "task_warnings 12"; next }
     /^task_warning warning starved / { for (k = 0; k < 10; k++) print; next }
     { print }' "$ST" > "$WORK/many.txt"
run "$TD" show --no-group "$WORK/many.txt"
expect_ok
cmp -s "$OUT" "$WORK/many.txt" || fail "twelve warnings do not read back"
run "$TD" show --summary "$WORK/many.txt"
expect_ok
expect_out '^  starved \(warning\), 10 tasks:$'
expect_out '^    \(7 more: taskdump show --warnings=starved\)$'

# Malformed warning lines are errors naming the line.
sed 's/^task_warning warning starved runtime=1 task=2/task_warning warning starved task=2/' "$ST" > "$WORK/bad.txt"
run "$TD" show "$WORK/bad.txt"
expect_error 2 'bad.txt:.*task_warning'
echo "ok: $CHECKS checks"
