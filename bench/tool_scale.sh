#!/bin/bash
# tool_scale.sh - the `taskdump` tool on big dumps: real dumps of n idle
# tasks (dump_latency's chains on a 2-worker runtime, written in both
# formats by the runtime's writers), then every verb on each of them
# (taskdump-toolbench: one RESULT line per verb, size and format, with the
# wall time and the child's peak RSS).  `diff` compares each dump with a
# second one the same process wrote right after it (d<n>-later.*).
#
#   bench/tool_scale.sh <builddir> [sizes] [label=taskdump ...] [timeout]
#
#   sizes    comma-separated task counts (default 100000,1000000)
#   label=T  a tool binary to measure, as many as wanted (default:
#            after=<builddir>/tools/taskdump), e.g.
#            before=/work/main/build/tools/taskdump
#   timeout  seconds per run (default 300)
# TASKDUMP_SCALE_DIR=<dir> keeps the dumps there (made once, reused).
set -euo pipefail
build=$(readlink -f "${1:?usage: tool_scale.sh <builddir> [sizes] [label=taskdump ...] [timeout]}")
sizes=${2:-100000,1000000}
shift $(($# >= 2 ? 2 : 1))
tools=()
timeout=300
for a in "$@"; do
	case $a in
	*=*) tools+=("$a") ;;
	*) timeout=$a ;;
	esac
done
[ ${#tools[@]} -gt 0 ] || tools=("after=$build/tools/taskdump")
if [ -n "${TASKDUMP_SCALE_DIR:-}" ]; then
	dir=$TASKDUMP_SCALE_DIR
	mkdir -p "$dir"
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
IFS=, read -ra ns <<<"$sizes"
for n in "${ns[@]}"; do
	[ -s "$dir/d$n.json" ] && [ -s "$dir/d$n-later.json" ] && continue
	TASKDUMP_BENCH_DUMP_TO=$dir/d$n "$build/bench/taskdump-bench" \
		dump_latency "$n" --threads 2 >/dev/null
done
for n in "${ns[@]}"; do
	for t in "${tools[@]}"; do
		"$build/bench/taskdump-toolbench" --label "${t%%=*}" \
			--timeout "$timeout" "${t#*=}" "$dir/d$n.txt" \
			"$dir/d$n.json"
	done
done
