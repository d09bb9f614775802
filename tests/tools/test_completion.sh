#!/bin/bash
# test_completion.sh TASKDUMP COMPLETIONDIR DATA - the shell completions.
#
# bash: the script parses (bash -n), and completing real command lines
# (COMP_WORDS / COMP_CWORD set, the function called as bash would) gives
# the verbs, each verb's options, option values, files for show, diff and
# fold, and for dump the pid of a process with the agent loaded.
# zsh (when installed): the script parses, and completing in an
# interactive zsh on a pty (zsh/zpty) lists the verbs and show's options.
. "$(dirname "$0")/lib.sh"
DIR=$(readlink -f "$2")
DATA=$(readlink -f "$3")
BASH_SCRIPT=$DIR/taskdump.bash
ZSH_SCRIPT=$DIR/_taskdump

run bash -n "$BASH_SCRIPT"
expect_ok

# complete WORDS...: COMPREPLY, one per line, for the command line WORDS
# with the cursor at the end of the last word ('' for a new word).
complete_line() {
	(
		cd "$DATA" || exit 1
		. "$BASH_SCRIPT"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_taskdump taskdump "${COMP_WORDS[COMP_CWORD]}" \
			"${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}"
	)
}

# has WORDS... : WANT...: every WANT is offered.
has() {
	local words=() w
	while [ "$1" != : ]; do words+=("$1"); shift; done
	shift
	complete_line "${words[@]}" >"$OUT" 2>"$ERR"
	CHECKS=$((CHECKS + 1))
	LAST="complete '${words[*]}'"
	[ ! -s "$ERR" ] || fail "$LAST wrote to stderr"
	for w in "$@"; do
		grep -qxF -- "$w" "$OUT" || fail "$LAST does not offer '$w'"
	done
}
# lacks WORDS... : NOT...: no NOT is offered.
lacks() {
	local words=() w
	while [ "$1" != : ]; do words+=("$1"); shift; done
	shift
	complete_line "${words[@]}" >"$OUT" 2>"$ERR"
	for w in "$@"; do
		! grep -qxF -- "$w" "$OUT" || fail "complete '${words[*]}' offers '$w'"
	done
}

has taskdump '' : dump run show diff fold help
has taskdump s : show
lacks taskdump s : dump run
has taskdump --no-pager '' : dump show
has taskdump -- : --color --no-pager --version --help
has taskdump help '' : dump run show diff fold
has taskdump show -- : --format --task --name --state --grep --min-idle \
	--deadlocks --group --no-group --summary --color --no-pager --version --help
has taskdump show --state '' : idle notified running cancelled complete
has taskdump show -f '' : text json
has taskdump show --color = '' : auto always never
has taskdump show --color = al : always
has taskdump --color = n : never
has taskdump --color = never '' : show diff
has taskdump show '' : demo-1.txt demo-2.txt deadlock.txt
has taskdump show demo : demo-1.txt demo-2.txt demo-1.json
lacks taskdump show demo : deadlock.txt
has taskdump diff -- : --top --no-pager
has taskdump diff demo-1.txt '' : demo-2.txt
has taskdump fold -- : --wait
has taskdump fold d : deadlock.txt demo-1.txt
has taskdump dump -- : --timeout --output --format --version
has taskdump dump --format '' : text json
has taskdump run -- : --dump-after --every --count --dir --format \
	--timeout --show
has taskdump run --every 1s '' : bash
has taskdump run -- ba : bash
has taskdump run -- bash demo : demo-1.txt
lacks taskdump run bash --ver : --version

# dump: the pid of a process with the agent loaded (a copy of the library
# is enough: only the name in its maps counts); our own shell is not one.
gcc -shared -o "$WORK/libtaskdump_agent.so" -x c /dev/null 2>/dev/null ||
	cc -shared -o "$WORK/libtaskdump_agent.so" -x c /dev/null
LD_PRELOAD=$WORK/libtaskdump_agent.so sleep 60 &
AGENT_PID=$!
cleanup_hooks+=("kill $AGENT_PID 2>/dev/null")
wait_for 10 grep -qs libtaskdump_agent "/proc/$AGENT_PID/maps"
has taskdump dump '' : "$AGENT_PID"
lacks taskdump dump '' : "$$"
has taskdump dump "${AGENT_PID:0:1}" : "$AGENT_PID"

# zsh, when it is there.
if ! command -v zsh >/dev/null; then
	echo "ok: $CHECKS checks (zsh not installed: its completion not checked)"
	exit 0
fi
run zsh -n "$ZSH_SCRIPT"
expect_ok
# An interactive zsh on a pty with compinit and the completion; type a
# command line and a TAB, read what it lists.
zsh_complete() {
	timeout 20 zsh -f -c '
		zmodload zsh/zpty || exit 3
		zpty -b z "zsh -f -i"
		zpty -w z "PS1=\"READY> \"; fpath=($1 \$fpath); cd $2;"
		zpty -w z "autoload -Uz compinit; compinit -u -D; LISTMAX=0; setopt autolist nolistbeep nobeep"
		zpty -w z "zstyle \":completion:*\" list-prompt \"\"; print -r -- END_OF_SETUP"
		zpty -r -m z out "*END_OF_SETUP*END_OF_SETUP*" || exit 4
		zpty -n -w z "$3"$'"'"'\t\t'"'"'
		sleep 1
		zpty -w z $'"'"'\C-u'"'"'"print -r -- END_OF_LIST"
		zpty -r -m z out "*END_OF_LIST*END_OF_LIST*" || exit 5
		print -r -- "$out"
		zpty -d z
	' zsh "$DIR" "$DATA" "$1" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
}
zsh_complete 'taskdump ' >"$OUT" 2>"$ERR"
for w in dump run show diff fold help; do
	grep -qw -- "$w" "$OUT" || fail "zsh: 'taskdump <TAB>' does not list $w"
done
zsh_complete 'taskdump show --s' >"$OUT" 2>"$ERR"
for w in --state --summary; do
	grep -q -- "$w" "$OUT" || fail "zsh: 'taskdump show --s<TAB>' does not list $w"
done
zsh_complete 'taskdump show --state ' >"$OUT" 2>"$ERR"
for w in idle notified running; do
	grep -qw -- "$w" "$OUT" || fail "zsh: 'taskdump show --state <TAB>' does not list $w"
done
zsh_complete 'taskdump diff demo-' >"$OUT" 2>"$ERR"
grep -q 'demo-2.txt' "$OUT" || fail "zsh: 'taskdump diff demo-<TAB>' does not list files"
CHECKS=$((CHECKS + 4))
done_ok
