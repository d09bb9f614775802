#!/bin/bash
# agent_latency.sh - a dump through the agent, from the signal to the
# renamed file, of n idle tasks (the chains of dump_latency) on a 2-worker
# runtime.  Prints the agent's own report as one RESULT line per dump:
#
#   bench/agent_latency.sh <builddir> [n] [dumps]
#
#   RESULT impl=taskdump flavor=multi_thread threads=2 workload=agent_dump n=100000 pause_ms=... total_ms=... tasks=... bytes=...
set -euo pipefail
build=${1:?usage: agent_latency.sh <builddir> [n] [dumps]}
n=${2:-100000}
dumps=${3:-3}
dir=$(mktemp -d)
trap 'kill -TERM $pid 2>/dev/null; rm -rf "$dir"' EXIT
LD_PRELOAD=$build/agent/libtaskdump_agent.so TASKDUMP_DIR=$dir \
	"$build/bench/taskdump-bench" dump_hold "$n" --threads 2 \
	>"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 600); do grep -q 'tasks ready' "$dir/err" && break; sleep 0.1; done
grep -q 'tasks ready' "$dir/err" || { echo "dump_hold did not start" >&2; exit 1; }
for i in $(seq "$dumps"); do
	kill -USR1 $pid
	f=$dir/taskdump-$pid-$i.txt
	for _ in $(seq 600); do [ -e "$f" ] && break; sleep 0.05; done
	[ -e "$f" ] || { echo "no dump $i" >&2; exit 1; }
	sleep 0.2
	line=$(grep 'dump written to' "$dir/err" | sed -n "${i}p")
	pause=$(sed -n 's/.*paused \([0-9.]*\) ms.*/\1/p' <<<"$line")
	total=$(sed -n 's/.*total \([0-9.]*\) ms.*/\1/p' <<<"$line")
	tasks=$(sed -n 's/.* \([0-9]*\) tasks,.*/\1/p' <<<"$line")
	echo "RESULT impl=taskdump flavor=multi_thread threads=2 workload=agent_dump n=$n dump=$i pause_ms=$pause total_ms=$total tasks=$tasks bytes=$(stat -c %s "$f")"
done
