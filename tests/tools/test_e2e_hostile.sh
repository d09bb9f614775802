#!/bin/bash
# test_e2e_hostile.sh TASKDUMP DEMO AGENT DATA HOSTILE - what root's
# `taskdump dump` trusts of a target that runs as another user (nobody)
# and plants things where its dump should appear: a symbolic link to
# /etc/shadow or /dev/zero, a FIFO, a file others may read, a huge file,
# a symbolic link in the dump directory's path.  Each is one clear error
# and a non-zero status, within the timeout; nothing of the planted target
# is printed.  (issue 10, item 5)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
HOSTILE=$(readlink -f "$5")

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "skip: needs root and setpriv (a target running as another user)"
	exit 77
fi
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
H=$WORK/h
mkdir -m 755 "$H"
chown 65534:65534 "$H"

# start_hostile NAME DIR MODE [ARGS...]: the fake agent, as nobody, with
# TASKDUMP_DIR=DIR, in $H.  Sets $HPID; its output is in $WORK/NAME.log.
start_hostile() {
	local name=$1 dir=$2
	shift 2
	(cd "$H" && exec "${NOBODY[@]}" env TASKDUMP_DIR="$dir" \
		"$HOSTILE" "$AGENT" "$@") >"$WORK/$name.log" 2>&1 &
	HPID=$!
	cleanup_hooks+=("kill -KILL $HPID 2>/dev/null")
	wait_for 30 grep -q '^hostile: pid' "$WORK/$name.log"
}
stop_hostile() { kill -KILL "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }

# run_bounded SECS CMD...: run, killed after SECS (status 124 then).
run_bounded() {
	local secs=$1
	shift
	run timeout -s KILL "$secs" "$@"
	[ "$RC" -ne 137 ] || RC=124
}

# 1. A symbolic link to /etc/shadow: refused, nothing printed.
start_hostile shadow "$H" link /etc/shadow
run_bounded 30 "$TD" dump -t 5s "$HPID"
expect_error 2 "taskdump-$HPID-1\\.txt: .*symbolic link"
[ ! -s "$OUT" ] || fail "printed the planted file"
stop_hostile

# 2. A FIFO: refused at once (it used to block forever, ignoring -t).
start_hostile fifo "$H" fifo
run_bounded 30 "$TD" dump -t 5s "$HPID"
expect_error 2 "taskdump-$HPID-1\\.txt: .*FIFO"
stop_hostile

# 3. A symbolic link to /dev/zero (it used to stream NUL bytes forever).
start_hostile zero "$H" link /dev/zero
run_bounded 30 "$TD" dump -t 5s -o /dev/null "$HPID"
expect_error 2 "taskdump-$HPID-1\\.txt: .*symbolic link"
stop_hostile

# 4. A regular file that others may read: not what the agent writes.
start_hostile mode "$H" copy "$DATA/demo-1.txt" 0644
run_bounded 30 "$TD" dump -t 5s "$HPID"
expect_error 2 "taskdump-$HPID-1\\.txt: .*mode 0644"
[ ! -s "$OUT" ] || fail "printed the file with mode 0644"
stop_hostile

# 5. A file of 2 GiB (sparse): refused by its size, not streamed.
start_hostile big "$H" size $((2 << 30))
run_bounded 60 "$TD" dump -t 5s -o /dev/null "$HPID"
expect_error 2 "taskdump-$HPID-1\\.txt: .*larger than"
stop_hostile

# The real thing still works: the agent's own file (as nobody, in $H).
(cd "$H" && exec "${NOBODY[@]}" env "${DEMO_ENV[@]}" LD_PRELOAD="$AGENT" \
	TASKDUMP_DIR="$H" stdbuf -oL "$DEMO" --current-thread) \
	>"$WORK/demo.log" 2>&1 &
DPID=$!
cleanup_hooks+=("kill -KILL $DPID 2>/dev/null")
wait_for 60 grep -q '^taskdump-demo: pid' "$WORK/demo.log"
run "$TD" dump -t 20s "$DPID"
expect_ok
expect_out "^pid $DPID$"
kill -TERM "$DPID"
wait "$DPID"

# A directory nobody may not enter, with a file in it that looks like a
# dump of the target (owned by nobody, mode 0600).
SECRET=$WORK/secret
mkdir -m 700 "$SECRET"

# 6. TASKDUMP_DIR through a symbolic link, planted by the target, into
# that directory: taskdump opens the directory as the target's user
# would, so it refuses before signalling.  (It used to read the file,
# which appeared there after the signal.)
"${NOBODY[@]}" ln -s "$SECRET" "$H/into-secret"
start_hostile dirlink "$H/into-secret" none
"$TD" dump -t 10s "$HPID" >"$WORK/6.out" 2>"$WORK/6.err" &
TOOL=$!
# Whichever comes first: taskdump gives up, or the target got the signal
# (then the file appears where the old taskdump would read it).
until ! kill -0 "$TOOL" 2>/dev/null || grep -q '^hostile: signal 1' "$WORK/dirlink.log"; do
	sleep 0.02
done
echo "SECRET CONTENTS" >"$SECRET/taskdump-$HPID-1.txt"
chown 65534:65534 "$SECRET/taskdump-$HPID-1.txt"
chmod 600 "$SECRET/taskdump-$HPID-1.txt"
wait "$TOOL"
RC=$?
cp "$WORK/6.out" "$OUT"
cp "$WORK/6.err" "$ERR"
LAST="taskdump dump (TASKDUMP_DIR through a link into $SECRET)"
expect_error 3 "dump directory $H/into-secret .*uid 65534.*Permission denied"
! grep -q SECRET "$OUT" || fail "printed a file nobody may not read"
grep -q '^hostile: signal' "$WORK/dirlink.log" && fail "signalled the target"
rm -f "$SECRET/taskdump-$HPID-1.txt"
stop_hostile

# 7. The link is re-pointed into that directory after taskdump looked:
# taskdump keeps the directory it opened, so no dump appears (status 4).
# (It used to follow the new link and print the file found there.)
"${NOBODY[@]}" mkdir "$H/a"
"${NOBODY[@]}" ln -s "$H/a" "$H/cur"
start_hostile relink "$H/cur" relink "$H/cur" "$SECRET"
echo "SECRET CONTENTS" >"$SECRET/taskdump-$HPID-1.txt"
chown 65534:65534 "$SECRET/taskdump-$HPID-1.txt"
chmod 600 "$SECRET/taskdump-$HPID-1.txt"
run_bounded 30 "$TD" dump -t 2s "$HPID"
expect_error 4 "no dump from process $HPID in $H/cur after"
! grep -q SECRET "$OUT" || fail "followed the re-pointed link"
grep -q '^hostile: signal 1' "$WORK/relink.log" || fail "the target was not signalled"
stop_hostile

# 8. Root that cannot take the target's identity (no CAP_SETUID/SETGID)
# does not fall back to its own: it refuses, before signalling.
start_hostile noid "$H" none
run setpriv --bounding-set=-setuid,-setgid "$TD" dump -t 5s "$HPID"
expect_error 3 "cannot take the identity of process $HPID's user \(uid 65534\)"
grep -q '^hostile: signal' "$WORK/noid.log" && fail "signalled the target"
stop_hostile
done_ok
