#!/bin/bash
# test_oom.sh TASKDUMP DEMO AGENT DATA HOSTILE - running out of memory
# while reading a dump is said as such: "out of memory", status 5 (a
# system error), never a malformed file (status 2) nor a dump read wrong;
# and `dump -o` leaves no partial file behind.  (issue 10, item 7)
#
# Memory is limited with `ulimit -v` (RLIMIT_AS).  An ASan build reserves
# terabytes of address space for its shadow and cannot run under that
# limit: there ASan's allocator refuses blocks over 32 MiB instead
# (max_allocation_size_mb, allocator_may_return_null), which only the dump
# with one 40 MB string needs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
HOSTILE=$(readlink -f "$5")

# Two JSON dumps that do not fit in the limits below: 100 000 tasks (90 MB
# on disk, about 50 MB of model), and the demo's with a task name of 60 MB
# (the string is decoded into a buffer grown to 64 MB, then copied).
python3 - "$DATA/demo-1.json" "$WORK" <<'PY'
import copy, json, sys
d = json.load(open(sys.argv[1]))
rt = d['runtimes'][0]
tasks = rt['tasks']
long = copy.deepcopy(d)
long['runtimes'][0]['tasks'][0]['name'] = 'x' * 60000000
open(sys.argv[2] + '/long.json', 'w').write(json.dumps(long))
big = []
for i in range(100000):
    t = copy.deepcopy(tasks[i % len(tasks)])
    t['id'] = i + 1
    big.append(t)
rt['tasks'] = big
rt['tasks_total'] = d['tasks_total'] = len(big)
open(sys.argv[2] + '/big.json', 'w').write(json.dumps(d, separators=(',', ':')))
PY
run "$TD" show --no-group "$WORK/big.json"
expect_ok
cp "$OUT" "$WORK/big.txt"

if ldd "$TD" | grep -q libasan; then
	ASAN=1
	limited() {
		shift
		ASAN_OPTIONS="$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=32" "$@"
		local rc=$?
		# (ASan warns of each refused block: not the tool's line)
		sed -i '/^==[0-9]*==WARNING: AddressSanitizer failed to allocate/d' "$ERR"
		return $rc
	}
else
	ASAN=0
	limited() { (ulimit -v "$1" && exec "${@:2}"); }
fi

# Where a small dump fits, the big ones do not.
run limited 100000 "$TD" show "$DATA/demo-1.json"
expect_ok
run limited 100000 "$TD" show --summary "$WORK/long.json"
expect_error 5 "out of memory reading $WORK/long.json"
if [ $ASAN = 0 ]; then
	# JSON: the model runs out (the message names the file).
	run limited 16000 "$TD" show "$DATA/demo-1.json"
	expect_ok
	run limited 30000 "$TD" show "$WORK/big.json"
	expect_error 5 "out of memory reading $WORK/big.json"
	# Text: the model runs out.
	run limited 16000 "$TD" show "$DATA/demo-1.txt"
	expect_ok
	run limited 16000 "$TD" show "$WORK/big.txt"
	expect_error 5 "out of memory reading $WORK/big.txt"
fi

# `dump -f text -o FILE` of a process whose dump does not fit: no
# temporary file is left next to FILE.  (The target is a stand-in that
# renames the file into place as the agent would.)
mkdir "$WORK/out" "$WORK/d"
(cd "$WORK/d" && exec "$HOSTILE" "$AGENT" copy "$WORK/long.json") \
	>"$WORK/hostile.log" 2>&1 &
HPID=$!
cleanup_hooks+=("kill -KILL $HPID 2>/dev/null")
wait_for 30 grep -q '^hostile: pid' "$WORK/hostile.log"
run limited 100000 "$TD" dump -f text -o "$WORK/out/dump.txt" "$HPID"
expect_error 5 "out of memory reading $WORK/d/taskdump-$HPID-1.json"
[ -z "$(ls -A "$WORK/out")" ] || fail "left behind: $(ls -A "$WORK/out")"
# With the memory it needs, the same works.
run "$TD" dump -f text -o "$WORK/out/dump.txt" "$HPID"
expect_ok
grep -q "^task [0-9]* name=\"xxxxxxxxxx" "$WORK/out/dump.txt" ||
	fail "dump -o: the long name is missing"
done_ok
