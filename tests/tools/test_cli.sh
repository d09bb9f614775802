#!/bin/bash
# test_cli.sh TASKDUMP DATA - help, version and usage errors of every verb.
. "$(dirname "$0")/lib.sh"
DATA=$2

for h in --help -h help; do
	run "$TD" $h
	expect_ok
	expect_out '^Usage: taskdump \[--color=WHEN\] \[--no-pager\] <command>'
	expect_out '^  help \[COMMAND\] '
	expect_out 'Exit status: 0 success, 1 usage error'
done
run "$TD" help help; expect_ok; expect_out '^Usage: taskdump \['
# Every verb's help three ways, the same text; --version everywhere.
VERSION='^taskdump [0-9]+\.[0-9]+\.[0-9]+ \(dump format version 1\)$'
for verb in dump run show diff fold; do
	for h in "$verb --help" "$verb -h" "help $verb" "--no-pager help $verb" \
		 "--color=never $verb --help"; do
		run "$TD" $h
		expect_ok
		expect_out "^Usage: taskdump $verb"
		expect_out '^  --color\[=WHEN\] '
		expect_out '^Exit status:'
		cp "$OUT" "$WORK/help-$verb-$(echo $h | tr ' ' _)"
	done
	cmp -s "$WORK/help-$verb-${verb}_--help" "$WORK/help-$verb-help_$verb" ||
		fail "'help $verb' differs from '$verb --help'"
	run "$TD" $verb --version; expect_ok; expect_out "$VERSION"
	[ "$(wc -l <"$OUT")" -eq 1 ] || fail "$verb --version: one line"
done
for v in --version -V "--no-pager --version" "--color=always --version"; do
	run "$TD" $v; expect_ok; expect_out "$VERSION"
done
# The version before the verb's own checks: no file needed.
run "$TD" show --version; expect_ok
run "$TD" run --version; expect_ok; expect_out "$VERSION"
# ... but after PROGRAM, options are the program's.
# (In a sanitizer build the agent preloaded into printf loads libasan late:
# ASan must be told that this is fine.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	run "$TD" run -- printf '%s\n' --version
expect_ok; expect_out '^--version$'

run "$TD" help frobnicate
expect_error 1 "help: unknown command 'frobnicate' \(commands: dump, run, show, diff, fold\)"
[ ! -s "$OUT" ] || fail "help of an unknown verb printed something"
run "$TD" help show diff;       expect_error 1 "help takes one command"
run "$TD" --color=purple show x; expect_error 1 "color must be auto, always or never, not 'purple'"
run "$TD" show --color=purple x; expect_error 1 "show: --color must be"
run "$TD" --no-pager;           expect_error 1 'no command given'
run "$TD" --pager show x;       expect_error 1 "unknown option '--pager'"

# Usage errors: exit 1, one line naming the problem.
run "$TD";                      expect_error 1 'no command given'
run "$TD" frobnicate;           expect_error 1 "unknown command 'frobnicate'"
run "$TD" --frob;               expect_error 1 "unknown option '--frob'"
run "$TD" show;                 expect_error 1 'show: no dump file given'
run "$TD" show --bogus x;       expect_error 1 "unknown option '--bogus'"
run "$TD" show -q x;            expect_error 1 "unknown option '-q'"
run "$TD" show --format;        expect_error 1 "'--format' needs a value"
run "$TD" show --format xml x;  expect_error 1 'text or json'
run "$TD" show --state sleepy x; expect_error 1 'must be idle, notified'
run "$TD" show --task abc x;    expect_error 1 'task id'
run "$TD" show --min-idle 5x x; expect_error 1 'duration'
run "$TD" show --min-idle -1s x; expect_error 1 'duration'
run "$TD" show --grep '(' x;    expect_error 1 "grep '\('"
run "$TD" show --summary --format json "$DATA/demo-1.txt"
expect_error 1 'summary'
run "$TD" diff "$DATA/demo-1.txt"; expect_error 1 'at least two'
run "$TD" diff --top x a b;     expect_error 1 'top needs a number'
run "$TD" fold;                 expect_error 1 'fold: no dump file'
run "$TD" dump;                 expect_error 1 'no PID'
run "$TD" dump 12x;             expect_error 1 "'12x' is not a process id"
run "$TD" dump 0;               expect_error 1 'not a process id'
run "$TD" dump -5;              expect_error 1 "unknown option '-5'"
run "$TD" dump 99999999999;     expect_error 1 'not a process id'
run "$TD" dump 1 2;             expect_error 1 'one PID at a time'
run "$TD" dump --timeout soon 1; expect_error 1 'duration'
run "$TD" run;                  expect_error 1 'no PROGRAM'
run "$TD" run --count 2 -- true; expect_error 1 'count needs'
run "$TD" run --every 0 -- true; expect_error 1 'every must be'
run "$TD" run --dir /nonexistent/dir -- true
expect_error 1 'dir /nonexistent/dir'
run "$TD" run --dump-after x -- true; expect_error 1 'not a duration'

# A missing file is a bad input (2), not a usage error.
run "$TD" show /nonexistent/file.txt
expect_error 2 'cannot open /nonexistent/file.txt: No such file'
run "$TD" show "$DATA"
expect_error 2 'is a directory'

# Output errors: writing to a full device is a system error (5).
if [ -w /dev/full ]; then
	run bash -c "'$TD' show '$DATA/demo-1.txt' >/dev/full"
	expect_error 5 'cannot write the output'
fi
done_ok
