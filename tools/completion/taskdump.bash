# bash completion for taskdump(1) -*- shell-script -*-
#
# Verbs, each verb's options and their values, process ids for `dump`
# (those with the taskdump agent loaded, else all), commands for `run`,
# files for show, diff and fold.  Needs nothing from the bash-completion
# package; installed into its completions directory it loads on demand.

# The values of the options that take one from a list.
_taskdump_values() {
	case $1 in
	--color) COMPREPLY=($(compgen -W 'auto always never' -- "$2")) ;;
	-f | --format) COMPREPLY=($(compgen -W 'text json' -- "$2")) ;;
	-s | --state)
		COMPREPLY=($(compgen -W 'idle notified running cancelled complete' \
			-- "$2"))
		;;
	*) return 1 ;;
	esac
	return 0
}

# Process ids: those with libtaskdump_agent.so mapped (what `taskdump dump`
# accepts), or every process when none has it.
_taskdump_pids() {
	local d pids=()
	for d in /proc/[0-9]*; do
		grep -qs 'libtaskdump_agent' "$d/maps" 2>/dev/null &&
			pids+=("${d#/proc/}")
	done
	if [ ${#pids[@]} -eq 0 ]; then
		for d in /proc/[0-9]*; do
			pids+=("${d#/proc/}")
		done
	fi
	COMPREPLY=($(compgen -W "${pids[*]}" -- "$1"))
}

# File names (and directories on the way to them).
_taskdump_files() {
	compopt -o filenames 2>/dev/null
	local IFS=$'\n'
	COMPREPLY=($(compgen -f -- "$1"))
}

_taskdump() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local common='--color --color= --no-pager --version --help'
	local verbs='dump run show diff fold help'
	local verb='' i opts takes_value

	# --color=WHEN: bash splits it at '=' (COMP_WORDBREAKS).
	if [ "$cur" = = ] && [ "$prev" = --color ]; then
		_taskdump_values --color ''
		return
	fi
	if [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ] &&
		[ "${COMP_WORDS[COMP_CWORD - 2]}" = --color ]; then
		_taskdump_values --color "$cur"
		return
	fi
	case $cur in
	--color=*)
		_taskdump_values --color "${cur#--color=}"
		COMPREPLY=("${COMPREPLY[@]/#/--color=}")
		return
		;;
	esac

	# The verb: the first word that is not an option.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-* | =) ;;
		*)
			[ "${COMP_WORDS[i - 1]}" = = ] && continue
			verb=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	case $verb in
	'')
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$common -h -V" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
		fi
		return
		;;
	help)
		[ "$prev" = help ] &&
			COMPREPLY=($(compgen -W 'dump run show diff fold' -- "$cur"))
		return
		;;
	dump)
		opts='-t --timeout -o --output -f --format'
		takes_value='-t --timeout -o --output -f --format'
		;;
	run)
		opts='-a --dump-after -e --every -n --count -d --dir -f --format
		      -t --timeout -s --show'
		takes_value='-a --dump-after -e --every -n --count -d --dir
		             -f --format -t --timeout'
		;;
	show)
		opts='-f --format -t --task -n --name -s --state -g --grep
		      --min-idle --deadlocks --warnings --compact --tasks --group
		      --no-group --summary'
		takes_value='-f --format -t --task -n --name -s --state -g --grep
		             --min-idle'
		;;
	diff)
		opts='--top'
		takes_value='--top'
		;;
	fold)
		opts='-w --wait'
		takes_value=''
		;;
	*) return ;;
	esac

	# The value of the option before the cursor.
	if [[ " $takes_value " == *" $prev "* ]]; then
		_taskdump_values "$prev" "$cur" && return
		case $prev in
		-o | --output) _taskdump_files "$cur" ;;
		-d | --dir)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -d -- "$cur"))
			;;
		esac
		return
	fi

	# run: after PROGRAM (or --), the words are the program's.
	if [ "$verb" = run ]; then
		local j program=0
		for ((j = i + 1; j < COMP_CWORD; j++)); do
			local w=${COMP_WORDS[j]}
			if [ "$w" = -- ]; then
				program=$((j + 1))
				break
			fi
			[[ $w == -* ]] && continue
			[[ " $takes_value " == *" ${COMP_WORDS[j - 1]} "* ]] &&
				continue
			program=$j
			break
		done
		if [ "$program" -gt 0 ] && [ "$program" -lt "$COMP_CWORD" ]; then
			_taskdump_files "$cur"
			return
		fi
		if [ "$program" -eq "$COMP_CWORD" ] || [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $common -h" -- "$cur"))
	elif [ "$verb" = dump ]; then
		_taskdump_pids "$cur"
	else
		_taskdump_files "$cur"
	fi
}

complete -F _taskdump taskdump
