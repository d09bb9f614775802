#!/bin/bash
# run_fuzz.sh FUZZER SECONDS ARTIFACT_DIR SEED_DIR... - one bounded
# libFuzzer run: new inputs go to a scratch corpus (the seed directories
# are only read), crashes to ARTIFACT_DIR; the status is the fuzzer's.
set -eu
fuzzer=$1 secs=$2 artifacts=$3
shift 3
corpus=$(mktemp -d "${TMPDIR:-/tmp}/taskdump-fuzz.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$artifacts"
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
	"$corpus" "$@"
