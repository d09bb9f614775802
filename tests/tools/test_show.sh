#!/bin/bash
# test_show.sh TASKDUMP DATA - `taskdump show` on hand-written dumps.
. "$(dirname "$0")/lib.sh"
DATA=$2
D1=$DATA/demo-1.txt
D2=$DATA/demo-2.txt

# Text in, text out: a written dump shows as itself (it is grouped).
run "$TD" show "$D1"
expect_ok
cmp -s "$OUT" "$D1" || fail "show of demo-1.txt differs from it"

# JSON out is valid JSON, reads back, and shows as the same text.
run "$TD" show --format json "$D1"
expect_ok
cp "$OUT" "$WORK/d1.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)[0]=="taskdump" and d["taskdump"]==1; assert len(d["runtimes"][0]["tasks"])==6' "$WORK/d1.json" ||
	fail "JSON output does not load in python"
run "$TD" show "$WORK/d1.json"
expect_ok
cmp -s "$OUT" "$D1" || fail "JSON round trip changed the dump"
run "$TD" show -f json "$WORK/d1.json"
expect_ok
cmp -s "$OUT" "$WORK/d1.json" || fail "JSON -> JSON is not stable"

# The format is detected by content, not by name; '-' reads stdin.
cp "$WORK/d1.json" "$WORK/looks-like.txt"
run "$TD" show "$WORK/looks-like.txt"
expect_ok
cmp -s "$OUT" "$D1" || fail "content detection"
run bash -c "'$TD' show - < '$D1'"
expect_ok
cmp -s "$OUT" "$D1" || fail "stdin"

# Grouping: tasks 4 and 5 share a tree unless --no-group.
run "$TD" show "$D1"
grep -A1 '^task 4 ' "$OUT" | grep -q '^task 5 ' || fail "not grouped"
run "$TD" show --no-group "$D1"
expect_ok
grep -A1 '^task 4 ' "$OUT" | grep -q 'client_poll' || fail "--no-group"
[ "$(grep -c 'client_poll' "$OUT")" -eq 2 ] || fail "--no-group trees"

# The examples of README.md (dump file formats) start a root's children at column 0: read too.
run "$TD" show "$DATA/example-style.txt"
expect_ok
cmp -s "$OUT" "$D1" || fail "example-style indentation"

# Filters: AND across options, OR within one.
count_tasks() { grep -c '^task ' "$OUT"; }
run "$TD" show --state running "$D1"
expect_ok; [ "$(count_tasks)" -eq 1 ] && expect_out '^task 7 '
expect_out '^tasks 1$'
run "$TD" show --state running --state notified "$D1"
[ "$(count_tasks)" -eq 2 ] || fail "state OR"
run "$TD" show --name 'cli*' "$D1"
[ "$(count_tasks)" -eq 2 ] || fail "--name glob"
run "$TD" show --name 'cli*' --task 5 "$D1"
[ "$(count_tasks)" -eq 1 ] && expect_out '^task 5 ' || fail "name AND task"
run "$TD" show -t 3 -t 6 "$D1"
[ "$(count_tasks)" -eq 2 ] || fail "--task OR"
run "$TD" show --grep 'mutex_lock|oneshot' "$D1"
[ "$(count_tasks)" -eq 1 ] && expect_out '^task 6 ' || fail "--grep"
run "$TD" show --grep '^td_sleep_poll$' "$D1"
[ "$(count_tasks)" -eq 2 ] || fail "--grep anchored"
run "$TD" show --min-idle 2s "$D1"
[ "$(count_tasks)" -eq 4 ] || fail "--min-idle 2s"
run "$TD" show --min-idle 2.05s "$D1"
[ "$(count_tasks)" -eq 3 ] || fail "--min-idle 2.05s"
run "$TD" show --min-idle 0.05m "$D1"
[ "$(count_tasks)" -eq 2 ] || fail "--min-idle 0.05m"
run "$TD" show --min-idle 1h "$D1"
[ "$(count_tasks)" -eq 0 ] || fail "--min-idle 1h"
expect_ok
run "$TD" show --min-idle 500ms --state idle --format json "$D1"
expect_ok
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted(t["id"] for t in d["runtimes"][0]["tasks"]))' "$OUT" >"$WORK/ids" ||
	fail "filtered JSON"
grep -qx '\[0, 4, 5\]' "$WORK/ids" || fail "filtered JSON ids: $(cat "$WORK/ids")"
# Filtered output is a valid dump again.
run "$TD" show --name client "$D2"
cp "$OUT" "$WORK/f.txt"
run "$TD" show "$WORK/f.txt"
expect_ok

# Non-ASCII text across the reader's 64 KiB chunks (json-c 0.16 takes a
# UTF-8 sequence split between two chunks for invalid UTF-8).
for off in 0 1 2 3; do
	python3 - "$WORK/d1.json" "$WORK/split.json" "$off" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
task = d["runtimes"][0]["tasks"][1]
task["name"] = "@@"
at = json.dumps(d, ensure_ascii=False).encode().index(b"@@")
# 'a's up to a few bytes before offset 65536, then 2-, 3- and 4-byte
# sequences: with off 0..3 every split point is hit.
task["name"] = "a" * (65536 - at - 40 + int(sys.argv[3])) + "\u00e9\u20ac\U0001F600" * 20
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(d, ensure_ascii=False))
PY
	run "$TD" show "$WORK/split.json"
	expect_ok
	expect_out "^task 3 name=\"aaa"
done

# Several files: one after the other.
run "$TD" show "$D1" "$D2"
expect_ok
[ "$(grep -c '^taskdump 1$' "$OUT")" -eq 2 ] || fail "two dumps"

# --summary.
run "$TD" show --summary "$D2"
expect_ok
expect_out '^demo-2.txt|/demo-2.txt: pid 4242 /usr/local/bin/taskdump-demo'
expect_out 'runtime 1 "demo" \(multi_thread, 2 workers\): 7 tasks: 5 idle, 1 notified, 1 running'
expect_out 'worker 1 busy in task 7 for 15.2s'
expect_out '^Deepest waits'
expect_out '^ +4  task 6 "fanout"'
expect_out '^Longest idle'
expect_out '^ +15.3s  block_on \(idle, 3 polls\)'
expect_out '^Most common traces'
expect_out '^ +3  client_poll > td_io_poll \[io\]'
[ "$(wc -l <"$OUT")" -le 45 ] || fail "summary longer than a screen"
run "$TD" show --summary --state idle "$D2"
expect_out ': 5 tasks: 5 idle$'

# A hand-edited dump: unknown header keys and task fields are ignored.
sed -e 's/^tasks 6$/tasks 6\nfuture_key whatever/' \
    -e 's/^task 3 name="ticker"/task 3 colour=blue name="ticker"/' "$D1" >"$WORK/edited.txt"
run "$TD" show "$WORK/edited.txt"
expect_ok
expect_out '^task 3 name="ticker" state=idle'
# CRLF line ends (edited on Windows) read the same.
sed 's/$/\r/' "$D1" >"$WORK/crlf.txt"
run "$TD" show "$WORK/crlf.txt"
expect_ok
cmp -s "$OUT" "$D1" || fail "CRLF"
# Inputs the fuzzers once tripped on: they read, and their text, read and
# written again, no longer changes.
for f in "$DATA"/../fuzz-regressions/*; do
	run "$TD" show "$f"
	expect_ok
	cp "$OUT" "$WORK/r1.txt"
	run "$TD" show "$WORK/r1.txt"
	cp "$OUT" "$WORK/r2.txt"
	run "$TD" show "$WORK/r2.txt"
	cmp -s "$OUT" "$WORK/r2.txt" || fail "$f: text is not stable"
done
done_ok
