#!/bin/bash
# test_service_latency.sh SERVICE LOADGEN AGENT SCRIPT BUILDDIR - a smoke
# test of the service-latency bench (bench/service_latency.sh): the load
# generator runs for about a second against taskdump-service (200 idle
# connections) under the agent and asks for one dump; its RESULT line must
# be whole and well formed and the dump file must be there, with the
# server's connection tasks in it.  Then the script runs one short round of
# its three configurations and must print every kind of RESULT line.
# Nothing here depends on how fast the machine is.
set -u
SERVICE=$1 LOADGEN=$2 AGENT=$3 SCRIPT=$4 BUILD=$5
# In a sanitizer build the agent is preloaded before libasan: ASan must be
# told that this is fine (nothing changes otherwise).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/taskdump-test.XXXXXX")
SPID=
trap '[ -z "$SPID" ] || kill -KILL $SPID 2>/dev/null; rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.out "$WORK"/*.err; do
		[ -e "$f" ] && { echo "--- $f:" >&2; head -c 4000 "$f" >&2; }
	done
	exit 1
}

# field <line> <key>: the value of key=value in a RESULT line
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# The server, under the agent, dumping into $WORK.
LD_PRELOAD=$AGENT TASKDUMP_DIR=$WORK "$SERVICE" >"$WORK/server.out" \
	2>"$WORK/server.err" &
SPID=$!
for _ in $(seq 100); do grep -q ' port ' "$WORK/server.out" && break; sleep 0.1; done
port=$(sed -n 's/^taskdump-service: pid [0-9]* port \([0-9]*\) flavor=multi_thread threads=2$/\1/p' "$WORK/server.out")
[ -n "$port" ] || fail "no well-formed start line from taskdump-service"

timeout 120 "$LOADGEN" --port "$port" --idle 200 --conns 2 --rate 500 \
	--warmup 0.2 --duration 1 --pid $SPID --dump-every 1000 \
	--dump-dir "$WORK" --keep-dumps --tag "impl=taskdump test=1" \
	>"$WORK/loadgen.out" 2>"$WORK/loadgen.err"
rc=$?
[ $rc -eq 0 ] || fail "taskdump-loadgen exited $rc"
[ "$(wc -l <"$WORK/loadgen.out")" -eq 1 ] || fail "not one line of output"
line=$(cat "$WORK/loadgen.out")
num='[0-9]+(\.[0-9]+)?'
re="^RESULT impl=taskdump test=1 workload=service_latency dumps=1000ms n=202"
re+=" rate=500 conns=2 idle=200 duration_s=1 requests=[0-9]+"
for k in p50_us p90_us p99_us p999_us max_us send_lag_p99_us send_lag_max_us; do
	re+=" $k=$num"
done
re+=" dumps_sent=1 dumps_written=1 missing=0 setup_s=$num"
re+=" cpu_server_pct=$num cpu_loadgen_pct=$num cpu_other_pct=$num"
re+=" near_dump_ms=20 near_requests=[0-9]+ near_p99_us=$num near_max_us=$num"
re+=" far_p99_us=$num far_max_us=$num\$"
grep -Eq -- "$re" <<<"$line" || fail "malformed RESULT line: $line"
[ "$(field "$line" requests)" -gt 0 ] || fail "no request measured: $line"
awk -v a="$(field "$line" p50_us)" -v b="$(field "$line" p99_us)" \
    -v c="$(field "$line" p999_us)" -v d="$(field "$line" max_us)" \
    'BEGIN { exit !(a > 0 && a <= b && b <= c && c <= d) }' ||
	fail "percentiles out of order: $line"

dump=$WORK/taskdump-$SPID-1.txt
[ -s "$dump" ] || fail "no dump file $dump"
tasks=$(grep -c '^task [0-9]* name="connection"' "$dump")
[ "$tasks" -ge 202 ] || fail "$tasks connection tasks in the dump, not 202"

kill -TERM $SPID
wait $SPID
rc=$?
SPID=
[ $rc -eq 0 ] || fail "taskdump-service exited $rc after SIGTERM"
grep -q '^taskdump-service: accepted=202 requests=[0-9]* bad_frames=0 ' \
	"$WORK/server.err" || fail "the server's counters are wrong"

# The whole protocol, one short round: 3 runs, 2 pairs, 3 medians, 2 ratios.
IDLE=200 CONNS=2 RATE=500 DUMP_DIR=$WORK/script timeout 300 \
	bash "$SCRIPT" "$BUILD" 1 0.5 >"$WORK/script.out" 2>"$WORK/script.err" ||
	fail "service_latency.sh exited $?"
for w in 'service_latency dumps=none' 'service_latency dumps=1000ms' \
	 'service_latency dumps=100ms' 'service_latency_pair dumps=1000ms' \
	 'service_latency_pair dumps=100ms' 'service_latency_median dumps=none' \
	 'service_latency_median dumps=100ms' 'service_latency_ratio dumps=1000ms' \
	 'service_latency_ratio dumps=100ms'; do
	[ "$(grep -c "^RESULT impl=taskdump flavor=multi_thread threads=2 workload=$w n=202 " "$WORK/script.out")" -eq 1 ] ||
		fail "service_latency.sh: not one '$w' line"
done
grep -Eq "workload=service_latency_ratio dumps=100ms n=202 runs=1 p99_ratio_median=$num p99_ratio_min=$num p99_ratio_max=$num " \
	"$WORK/script.out" || fail "service_latency.sh: malformed ratio line"
grep -q '^# 100ms ' "$WORK/script.out" || fail "service_latency.sh: no summary"
echo "ok: $line"
