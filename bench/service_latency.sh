#!/bin/bash
# service_latency.sh - the service's view of task dumps: request latency of
# a 10 000-task server on the runtime (taskdump-service) under an open-loop
# load (taskdump-loadgen), without dumps, with a dump every second and with
# a dump every 100 ms, in interleaved rounds.  Builds nothing:
#
#   bench/service_latency.sh <builddir> [rounds] [seconds]
#
#   rounds   rounds of the three configurations, none/1s/100ms, none/1s/
#            100ms, ... (default 7); each run is a fresh server
#   seconds  the measured time of each run (default 10; 1 s of warm-up
#            comes before it)
#
# Environment: RATE (requests/s, default 2000), CONNS (active connections,
# 10), IDLE (idle connections, 9990: with CONNS, the server's connection
# tasks), THREADS (workers, 2; 0: the current-thread runtime), WORK (the
# server's rounds of work per request, its default if unset), PERIODS
# (dump periods in ms, 0 for none; default "0 1000 100"), DUMP_DIR (where
# the agent writes, default a fresh directory in /dev/shm, deleted at the
# end; the load generator deletes each dump as it appears).
#
# The server runs under LD_PRELOAD=<builddir>/agent/libtaskdump_agent.so;
# dumps are asked for from outside, as `taskdump dump` does (tgkill to the
# agent's thread).  Output, all on stdout:
#
#   RESULT impl=taskdump flavor=<f> threads=<t> workload=service_latency dumps=<none|1000ms|100ms> n=<tasks> ... p50_us= p99_us= p999_us= max_us= ... round=<i> pause_ms_median= pause_ms_max= dump_ms_median=
#       one per run (see bench/loadgen_main.c for the fields; pause and dump
#       times are the agent's own, from the server's stderr)
#   RESULT ... workload=service_latency_pair dumps=<d> n=<n> round=<i> p99_ratio= p999_ratio= max_ratio=
#       one per round and dump period: that run's figure over the same
#       round's run without dumps
#   RESULT ... workload=service_latency_median dumps=<d> n=<n> runs=<k> p50_us= p99_us= p999_us= max_us= ...
#       the medians over the runs of each configuration
#   RESULT ... workload=service_latency_ratio dumps=<d> n=<n> runs=<k> p99_ratio_median= p99_ratio_min= p99_ratio_max= p999_ratio_median= ... max_ratio_max=
#   and a short summary table (lines starting with "#").
set -euo pipefail
build=${1:?usage: service_latency.sh <builddir> [rounds] [seconds]}
rounds=${2:-7}
seconds=${3:-10}
rate=${RATE:-2000}
conns=${CONNS:-10}
idle=${IDLE:-9990}
threads=${THREADS:-2}
periods=${PERIODS:-0 1000 100}
server=$build/bench/taskdump-service
loadgen=$build/bench/taskdump-loadgen
agent=$build/agent/libtaskdump_agent.so
for f in "$server" "$loadgen" "$agent"; do
	[ -e "$f" ] || { echo "service_latency.sh: no $f (build first)" >&2; exit 1; }
done

if [ "$threads" = 0 ]; then
	flavor=current_thread sargs=(--current-thread) nthreads=1
else
	flavor=multi_thread sargs=(--workers "$threads") nthreads=$threads
fi
[ -n "${WORK:-}" ] && sargs+=(--work "$WORK")
tag="impl=taskdump flavor=$flavor threads=$nthreads"
n=$((idle + conns))

if [ -n "${DUMP_DIR:-}" ]; then
	top=$DUMP_DIR keep_top=1
	mkdir -p "$top"
else
	base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	top=$(mktemp -d "$base/taskdump-service-latency.XXXXXX") keep_top=0
fi
# The per-run lines, the pair ratios and the medians, for the summary.
results=$top/results pairs=$top/pairs medians=$top/medians
spid=
cleanup() {
	[ -z "$spid" ] || kill -KILL "$spid" 2>/dev/null || true
	rm -f "$results" "$pairs" "$medians"
	[ "$keep_top" = 1 ] || rm -rf "$top"
}
trap cleanup EXIT

# label <period ms>: the dumps= value the load generator prints
label() { [ "$1" = 0 ] && echo none || echo "${1}ms"; }

# field <line> <key>: the value of key=value in a RESULT line
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# stats: the median, min and max of numbers on stdin, one a line
stats() {
	sort -g | awk '{a[NR]=$1} END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%.3f %.3f %.3f\n", m, a[1], a[NR] }'
}

# run_one <round> <period ms>: one fresh server, one load run, its RESULT
# line (with the agent's pause and dump times appended) on stdout.  (Not
# in a subshell: cleanup must see $spid.)
run_one() {
	local round=$1 period=$2 dir out err pid port line
	dir=$top/run-$round-$period
	mkdir -p "$dir"
	out=$dir/server.out err=$dir/server.err
	LD_PRELOAD=$agent TASKDUMP_DIR=$dir "$server" "${sargs[@]}" \
		>"$out" 2>"$err" &
	spid=$!
	for _ in $(seq 100); do grep -q ' port ' "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/.* pid \([0-9]*\) port.*/\1/p' "$out")
	port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$out")
	if [ -z "$port" ]; then
		echo "service_latency.sh: the server did not start:" >&2
		cat "$err" >&2
		return 1
	fi
	local args=(--port "$port" --pid "$pid" --rate "$rate" --conns "$conns"
		    --idle "$idle" --duration "$seconds" --tag "$tag")
	[ "$period" = 0 ] || args+=(--dump-every "$period" --dump-dir "$dir")
	local limit
	limit=$(awk -v s="$seconds" 'BEGIN { print int(s) + 120 }')
	line=$(timeout "$limit" "$loadgen" "${args[@]}" 2>"$dir/loadgen.err" |
		grep '^RESULT' || true)
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=
	if [ -z "$line" ]; then
		echo "service_latency.sh: round $round, dumps $(label "$period"): the load generator failed:" >&2
		cat "$dir/loadgen.err" >&2
		return 1
	fi
	# The agent's line per dump: "... paused P ms, total T ms".
	local pause dump
	pause=$(sed -n 's/.*paused \([0-9.]*\) ms.*/\1/p' "$err" | stats)
	dump=$(sed -n 's/.*total \([0-9.]*\) ms.*/\1/p' "$err" | stats)
	read -r pm _ px <<<"$pause"
	read -r dm _ _ <<<"$dump"
	[ "$period" = 0 ] && pm=0 px=0 dm=0
	echo "$line round=$round pause_ms_median=$pm pause_ms_max=$px dump_ms_median=$dm"
	rm -rf "$dir"
}

echo "service_latency.sh: $rounds rounds x {$periods} ms periods, $seconds s each, $rate req/s, $conns + $idle idle connections, $flavor ($nthreads)" >&2
for r in $(seq "$rounds"); do
	for p in $periods; do
		run_one "$r" "$p" >"$top/line"
		line=$(cat "$top/line")
		echo "$line"
		echo "$line" >>"$results"
		echo "  round $r dumps=$(label "$p"): p99 $(field "$line" p99_us) us, max $(field "$line" max_us) us" >&2
	done
done

# the runs of one configuration
runs_of() { grep " dumps=$(label "$1") " "$results" || true; }

# Pair ratios: each dump run over the same round's run without dumps.
for p in $periods; do
	[ "$p" = 0 ] && continue
	for r in $(seq "$rounds"); do
		base=$(grep " dumps=none .* round=$r " "$results" || true)
		with=$(grep " dumps=$(label "$p") .* round=$r " "$results" || true)
		[ -n "$base" ] && [ -n "$with" ] || continue
		awk -v tag="$tag" -v d="$(label "$p")" -v n="$n" -v r="$r" \
		    -v a99="$(field "$with" p99_us)" -v b99="$(field "$base" p99_us)" \
		    -v a999="$(field "$with" p999_us)" -v b999="$(field "$base" p999_us)" \
		    -v amax="$(field "$with" max_us)" -v bmax="$(field "$base" max_us)" \
		    'BEGIN { printf "RESULT %s workload=service_latency_pair dumps=%s n=%s round=%s p99_ratio=%.3f p999_ratio=%.3f max_ratio=%.3f\n",
			tag, d, n, r, a99 / b99, a999 / b999, amax / bmax }'
	done
done | tee "$pairs"

for p in $periods; do
	d=$(label "$p")
	k=$(runs_of "$p" | wc -l)
	line="RESULT $tag workload=service_latency_median dumps=$d n=$n runs=$k"
	for key in p50_us p99_us p999_us max_us send_lag_max_us pause_ms_median pause_ms_max dump_ms_median cpu_server_pct cpu_other_pct near_p99_us far_p99_us; do
		m=$(runs_of "$p" | while read -r l; do field "$l" "$key"; done | stats)
		line+=" $key=${m%% *}"
	done
	echo "$line"
done | tee -a "$medians"
for p in $periods; do
	[ "$p" = 0 ] && continue
	d=$(label "$p")
	line="RESULT $tag workload=service_latency_ratio dumps=$d n=$n runs=$(grep -c " dumps=$d " "$pairs" || true)"
	for key in p99_ratio p999_ratio max_ratio; do
		read -r med lo hi <<<"$(grep " dumps=$d " "$pairs" | while read -r l; do field "$l" "$key"; done | stats)"
		line+=" ${key}_median=$med ${key}_min=$lo ${key}_max=$hi"
	done
	echo "$line"
done | tee -a "$medians"

# The summary table, from the lines above.
echo "# service latency: $n connection tasks ($idle idle), $rate req/s over $conns connections, $flavor ($nthreads), $rounds rounds of $seconds s; medians over the rounds"
echo "# dumps      p50_us   p99_us  p99.9_us   max_us  send_lag_max_us  other_cpu_%  | p99 ratio med [min..max] | max ratio med [min..max] | agent pause ms med/max"
while read -r l; do
	d=$(field "$l" dumps)
	case $l in
	*workload=service_latency_median*)
		printf '# %-8s %8s %8s %9s %8s %16s %12s' "$d" "$(field "$l" p50_us)" \
			"$(field "$l" p99_us)" "$(field "$l" p999_us)" "$(field "$l" max_us)" \
			"$(field "$l" send_lag_max_us)" "$(field "$l" cpu_other_pct)"
		r=$(grep "workload=service_latency_ratio dumps=$d " "$medians" || true)
		if [ -n "$r" ]; then
			printf '  | %5s [%s..%s] | %5s [%s..%s] | %s / %s\n' \
				"$(field "$r" p99_ratio_median)" "$(field "$r" p99_ratio_min)" \
				"$(field "$r" p99_ratio_max)" "$(field "$r" max_ratio_median)" \
				"$(field "$r" max_ratio_min)" "$(field "$r" max_ratio_max)" \
				"$(field "$l" pause_ms_median)" "$(field "$l" pause_ms_max)"
		else
			printf '  |          -               |          -               |\n'
		fi
		;;
	esac
done <"$medians"
echo "# issue 12's target: with a dump every 100 ms, p99 within 1.2x and max within 1.5x of no dumps"
