#!/bin/bash
# compare.sh - taskdump-bench and tokio-bench side by side, interleaved, on
# the same machine in one run (the anchors in ../shared/anchors move by 2-4x
# between days, so only numbers taken together compare).
#
#   bench/compare.sh <taskdump-bench> <tokio-bench> [reps]
#
# <tokio-bench>: build it from ../shared/anchors/tokio-bench with
# `cargo build --release` (Debian's librust-tokio-dev; see the anchors'
# README).  For every workload and flavor the two run alternately, `reps`
# times each (default 3); the medians and the ratio ours/Tokio (throughput:
# higher is better; memory: lower is better) are printed, one line each,
# with the median of the per-rep ratios (pair_ratio):
#
#   COMPARE workload=<w> flavor=<f> metric=<m> taskdump=<x> tokio=<y> ratio=<x/y> pair_ratio=<r>
set -euo pipefail
ours=${1:?usage: compare.sh <taskdump-bench> <tokio-bench> [reps]}
theirs=${2:?usage: compare.sh <taskdump-bench> <tokio-bench> [reps]}
reps=${3:-3}

# field <line> <key>: the value of key=value in a RESULT line
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run() { # run <binary> <args...>: the RESULT line (empty if it failed)
	timeout 120 "$@" 2>/dev/null | grep '^RESULT' || true
}

compare() { # compare <workload> <n> <threads> <metric> <higher|lower>
	local w=$1 n=$2 t=$3 metric=$4 better=$5 a=() b=()
	for _ in $(seq "$reps"); do
		a+=("$(field "$(run "$ours" "$w" "$n" --threads "$t")" "$metric")")
		b+=("$(field "$(run "$theirs" "$w" "$n" --threads "$t")" "$metric")")
	done
	local x y p flavor
	x=$(printf '%s\n' "${a[@]}" | grep . | median)
	y=$(printf '%s\n' "${b[@]}" | grep . | median)
	# The ratio of each rep's two runs, taken back to back: the machine's
	# slow spells hit both of a pair, so their median moves less.
	p=$(for i in "${!a[@]}"; do
		[ -n "${a[i]}" ] && [ -n "${b[i]}" ] &&
			awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { if (y > 0) print x / y }'
	done | median)
	flavor=$([ "$t" = 0 ] && echo current_thread || echo multi_thread)
	awk -v w="$w" -v f="$flavor" -v m="$metric" -v x="$x" -v y="$y" \
	    -v p="$p" -v better="$better" 'BEGIN {
		r = (y > 0) ? x / y : 0
		printf "COMPARE workload=%s flavor=%s metric=%s taskdump=%s tokio=%s ratio=%.2f pair_ratio=%.2f (%s is better)\n",
		       w, f, m, x, y, r, p, better
	}'
}

for t in 0 2; do
	compare spawn_join 1000000 "$t" rate higher
	compare yield_many 10000000 "$t" rate higher
	compare ping_pong 1000000 "$t" rate higher
	compare idle_tasks 100000 "$t" rss_bytes_per_task lower
	compare idle_tasks 100000 "$t" spawn_ms lower
	compare idle_notify 100000 "$t" rss_bytes_per_task lower
done
