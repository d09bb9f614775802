#!/bin/bash
# test_malformed.sh TASKDUMP DATA MALFORMED - every reading verb on every
# malformed file: exit status 2, exactly one line "taskdump: <file>...: why"
# on stderr, nothing on stdout, no crash (a sanitizer report or a signal
# would show as another status or more lines).
. "$(dirname "$0")/lib.sh"
DATA=$2
BAD=$3
GOOD=$DATA/demo-1.txt

check_file() {
	local f=$1 base
	base=$(basename "$f")
	for verb in "show" "show --summary" "show --format json" \
		    "show --no-group --state idle" "fold" "fold --wait"; do
		run "$TD" $verb "$f"
		expect_error 2 "$base"
		[ ! -s "$OUT" ] || fail "'$LAST' printed something"
	done
	run "$TD" diff "$f" "$f"
	expect_error 2 "$base"
	run "$TD" diff "$GOOD" "$f"
	expect_error 2 "$base"
	run "$TD" diff "$f" "$GOOD" "$GOOD"
	expect_error 2 "$base"
	# From stdin, too (no file size to look at first).
	run bash -c "exec '$TD' show - < '$f'"
	expect_error 2 '<stdin>'
}

n=0
for f in "$BAD"/*; do
	check_file "$f"
	n=$((n + 1))
done
[ "$n" -ge 40 ] || fail "only $n malformed files"

# Generated: too big to keep in the tree.
gen=$WORK/gen
mkdir "$gen"
# A 3 MiB line: refused at 1 MiB, never held whole.
{ printf 'taskdump 1\nprogram '; head -c 3145728 /dev/zero | tr '\0' x; echo; } >"$gen/long-line.txt"
# A 600 MiB JSON file (sparse: zeros after its start).  There is no size
# limit: the zeros are found, not the size.
printf '{"taskdump": 1, "runtimes": [' >"$gen/huge.json"
truncate -s 600M "$gen/huge.json"
# A trace deeper than the frame limit.
python3 - "$gen/deep-tree.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("taskdump 1\nruntimes 1\ntasks 1\n\nruntime 1 workers=0\n\n"
            "task 1 state=idle\n\u257c f at a.c:1\n")
    for d in range(1, 4200):
        f.write(" " * (3 * d) + "\u2514\u257c f at a.c:%d\n" % d)
    f.write("\n")
PY
# Random bytes after a valid header.
{ printf 'taskdump 1\n\n'; head -c 65536 /dev/urandom; } >"$gen/random.txt"
{ printf '{"taskdump": 1, '; head -c 65536 /dev/urandom; } >"$gen/random.json"
for f in "$gen"/*; do
	check_file "$f"
done
run "$TD" show "$gen/long-line.txt"
expect_error 2 'line longer than 1048576 bytes'
run timeout 20 "$TD" show "$gen/huge.json"
expect_error 2 'huge.json:1: bad JSON: NUL byte'
run "$TD" show "$gen/deep-tree.txt"
expect_error 2 'deeper than 4096 frames'

# Devices and endless input end quickly too.
run timeout 20 "$TD" show /dev/zero
expect_error 2 'binary data'
run timeout 20 "$TD" show /dev/urandom
expect_error 2 'not a taskdump dump'
run timeout 60 bash -c "yes 'task 1 state=idle' | '$TD' show -"
expect_error 2 '<stdin>'
done_ok
