# lib.sh - helpers shared by the tool's test scripts (sourced).
#
#   run CMD...           run, keeping stdout in $OUT, stderr in $ERR, status
#                        in $RC (never aborts the script)
#   expect_rc N          the last command exited N
#   expect_ok            exited 0 with nothing on stderr
#   expect_error N RE    exited N with exactly one stderr line, matching
#                        "^taskdump: " and the extended regex RE
#   expect_out RE        stdout has a line matching RE
#   expect_no_out RE     stdout has no line matching RE
#   wait_for SECS CMD... poll CMD until it succeeds (or fail after SECS)
set -u

TD=$(readlink -f "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/taskdump-test.XXXXXX")
OUT=$WORK/stdout
ERR=$WORK/stderr
RC=0
CHECKS=0
cleanup_hooks=()
trap 'for h in "${cleanup_hooks[@]}"; do eval "$h"; done; rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- last stdout:" >&2
	head -c 4000 "$OUT" >&2 2>/dev/null
	echo "--- last stderr:" >&2
	head -c 4000 "$ERR" >&2 2>/dev/null
	exit 1
}

run() {
	LAST="$*"
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
	CHECKS=$((CHECKS + 1))
}

expect_rc() {
	[ "$RC" -eq "$1" ] || fail "'$LAST' exited $RC, expected $1"
}

expect_ok() {
	expect_rc 0
	[ ! -s "$ERR" ] || fail "'$LAST' wrote to stderr"
}

expect_error() {
	local n
	expect_rc "$1"
	n=$(wc -l <"$ERR")
	[ "$n" -eq 1 ] || fail "'$LAST': $n stderr lines, expected one"
	grep -q '^taskdump: ' "$ERR" || fail "'$LAST': stderr lacks 'taskdump: '"
	grep -Eq -- "$2" "$ERR" || fail "'$LAST': stderr does not match /$2/"
}

expect_out() {
	grep -Eq -- "$1" "$OUT" || fail "'$LAST': stdout has no /$1/"
}

expect_no_out() {
	! grep -Eq -- "$1" "$OUT" || fail "'$LAST': stdout has /$1/"
}

wait_for() {
	local secs=$1 deadline
	shift
	deadline=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out: $*"
		sleep 0.05
	done
}

done_ok() {
	echo "ok: $CHECKS checks"
	exit 0
}
