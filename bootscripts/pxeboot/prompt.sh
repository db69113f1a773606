# shellcheck shell=dash
# prompt.sh: the operator at the console, and syslinux's boot: prompt.
#
# Exports: console_read_line PROMPT FIRST TOTAL  shows PROMPT and reads one line into
#                            LINE; FIRST and TOTAL are timeouts in 1/10 s (0: none):
#                            FIRST is cancelled by the first key (TIMEOUT), TOTAL is not
#                            (TOTALTIMEOUT). Returns 0 for a line (Enter), 1 on a timeout,
#                            2 when the console has no input at all (end of file);
#          console_read_secret PROMPT  the same without echo (a '*' per key), no timeout;
#          console_show TEXT   one line for the operator (always shown, also at -q);
#          prompt_ask          one line at boot: into TYPED (its words, one space
#                              apart), WORD (the first) and WORDS (the rest, with its
#                              blank); returns 1 when the prompt timed out or input ended;
#          prompt_choose       the boot: prompt until a command line is accepted: sets
#                              CHOICE (a command line) and CHOICE_FROM;
#          prompt_labels PREFIX  prints the labels that start with PREFIX (? and Tab);
#          answers_add TEXT    (dry run) queues an operator's answer, one per prompt.
# Reads:   control_chars (common.sh), the C_* settings of console.sh, config_get, label_*,
#          CONSOLE_RETRY (set after a failed boot: the prompt then also times out when
#          the config sets no timeout).
#
# The console may be a line-mode console (SCLP on s390: HMC, z/VM, QEMU -nographic):
# characters often arrive a whole line at a time, so everything here is line based, and
# the keys a line-mode console cannot send have typed equivalents (? for Tab).
# In a dry run the answers queued by --answer are the operator; when they run out, the
# operator has walked away: every prompt times out at once.

N_ANSWERS=0 ANSWER_AT=0
control_chars # DEL BS TAB KILL CR (common.sh)

# The queued answers are ANSWER_1, ANSWER_2, ...: taking one is a variable read, never
# a pattern cut of one long string (ash cuts ${X#*pattern} in quadratic time).
answers_add() {
	ANSWER_LAST=$((${ANSWER_LAST:-0} + 1))
	eval "ANSWER_$ANSWER_LAST=\$1"
	N_ANSWERS=$((N_ANSWERS + 1))
}

# answer_next: the next queued answer into LINE; fails when there is none left.
answer_next() {
	[ "$N_ANSWERS" -gt 0 ] || return 1
	ANSWER_AT=$((ANSWER_AT + 1))
	eval "LINE=\$ANSWER_$ANSWER_AT"
	N_ANSWERS=$((N_ANSWERS - 1))
}

console_show() { printf '%s\n' "$*" >&2; }

# now_tenths: a clock in 1/10 s (the kernel's uptime; whole seconds without /proc).
now_tenths() {
	local up rest
	if read -r up rest </proc/uptime 2>/dev/null; then
		rest=${up#*.}
		echo $((${up%.*} * 10 + ${rest%"${rest#?}"}))
	else
		echo $(($(date +%s) * 10))
	fi
}

# tenths_as_seconds N: 1/10 s as read -t takes them (busybox takes fractions).
tenths_as_seconds() { echo "$(($1 / 10)).$(($1 % 10))"; }

console_read_line() {
	console_read "$1" "$2" "$3" line
}

console_read_secret() {
	console_read "$1" 0 0 secret
}

# console_read PROMPT FIRST TOTAL MODE: the line editor behind console_read_line/_secret:
# the tty is put in non-canonical mode without echo, so that the first key is seen
# at once (it cancels FIRST) and the echo is ours (a '*' for a secret); backspace, ^U
# and Tab work as at syslinux's prompt.
console_read() {
	local prompt=$1 first=$2 total=$3 mode=$4 start saved key='' wait now ch rc
	LINE=''
	if [ "$DRY_RUN" = 1 ]; then
		if answer_next; then
			if [ "$mode" = secret ]; then
				printf '%s%s\n' "$prompt" "$(printf '%s' "$LINE" | sed 's/./*/g')" >&2
			else
				printf '%s%s\n' "$prompt" "$LINE" >&2
			fi
			return 0
		fi
		printf '%s\n' "$prompt(no answer left: as if nobody typed)" >&2
		return 1
	fi
	saved=$(stty -g 2>/dev/null) && stty -icanon -echo 2>/dev/null
	printf '%s' "$prompt" >&2
	start=$(now_tenths)
	while :; do
		# The key timeout counts only until the first key, the total one always.
		wait=0
		[ -z "$key" ] && [ "$first" -gt 0 ] && wait=$first
		if [ "$total" -gt 0 ]; then
			now=$(($(now_tenths) - start))
			[ "$now" -ge "$total" ] && rc=1 && break
			if [ "$wait" = 0 ] || [ $((total - now)) -lt "$wait" ]; then wait=$((total - now)); fi
		fi
		now=$(now_tenths)
		# busybox ash's read: -n 1 one key, -s no echo, -t a timeout (in fractions too).
		# shellcheck disable=SC3045
		if [ "$wait" -gt 0 ]; then
			IFS= read -r -s -n 1 -t "$(tenths_as_seconds "$wait")" ch
		else
			IFS= read -r -s -n 1 ch
		fi
		rc=$?
		if [ "$rc" != 0 ]; then
			# A timeout and the end of the input look alike to read: the clock tells.
			if [ "$wait" -gt 0 ] && [ $(($(now_tenths) - now + 1)) -ge "$wait" ]; then
				rc=1
			else
				rc=2
			fi
			break
		fi
		key=1
		case $ch in
		'' | "$CR")
			rc=0
			break
			;;
		"$DEL" | "$BS")
			if [ -n "$LINE" ]; then
				LINE=${LINE%?}
				printf '\b \b' >&2
			fi
			;;
		"$KILL")
			while [ -n "$LINE" ]; do
				LINE=${LINE%?}
				printf '\b \b' >&2
			done
			;;
		"$TAB")
			if [ "$mode" = line ]; then
				printf '\n' >&2
				prompt_labels "${LINE%%[ 	]*}" >&2
				printf '%s%s' "$prompt" "$LINE" >&2
			fi
			;;
		[[:cntrl:]]) ;;
		*)
			LINE=$LINE$ch
			if [ "$mode" = secret ]; then printf '*' >&2; else printf '%s' "$ch" >&2; fi
			;;
		esac
	done
	printf '\n' >&2
	[ -n "$saved" ] && stty "$saved" 2>/dev/null
	[ "$rc" = 2 ] && warn "the console gives no input (end of file)"
	return "$rc"
}

# prompt_labels PREFIX: the labels starting with PREFIX on one line, as syslinux's Tab.
prompt_labels() {
	local i=1 name out=''
	while [ "$i" -le "$(label_count)" ]; do
		name=$(label_get "$i" name)
		case $name in "$1"*) out="$out $name" ;; esac
		i=$((i + 1))
	done
	printf '%s\n' "${out:- (no label starts with '$1')}"
}

# prompt_timeout FIRST: the first-key timeout of a prompt: TIMEOUT, or after a failed
# boot PXE_FAILURE_PROMPT (seconds) when the configuration would wait forever.
prompt_timeout() {
	if [ "$CONSOLE_RETRY" = 1 ] && [ "$C_TIMEOUT" = 0 ] && [ "$C_TOTALTIMEOUT" = 0 ]; then
		echo $((${PXE_FAILURE_PROMPT:-15} * 10))
	else
		echo "$C_TIMEOUT"
	fi
}

prompt_ask() {
	PROMPT_RC=0
	console_read_line "boot: " "$(prompt_timeout)" "$C_TOTALTIMEOUT" || {
		PROMPT_RC=$?
		return 1
	}
	# shellcheck disable=SC2086 # the words of the line; globbing is off
	set -- $LINE
	TYPED=$*
	WORD=${TYPED%%[ 	]*}
	WORDS=${TYPED#"$WORD"}
}

# prompt_timed_out: what a timeout at boot: boots: ONTIMEOUT, else what an unattended
# boot would (DEFAULT, MENU DEFAULT, the first LABEL).
# Without DEFAULT (nor ONTIMEOUT), syslinux says so and shows boot: again after a real
# timeout (returns 1 here); when nobody can answer (end of input, a dry run without
# answers) that would wait forever: a failure instead.
prompt_timed_out() {
	local ontimeout
	ontimeout=$(config_get ontimeout)
	if [ -n "$ontimeout" ]; then
		CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (timeout at boot:)"
	elif [ -z "$(config_get default)" ]; then
		console_show "No DEFAULT or UI configuration directive found!"
		[ "$PROMPT_RC" = 1 ] && [ "$DRY_RUN" != 1 ] && return 1
		die "configuration $CONFIG_NAME has no DEFAULT or UI, and nobody chose at boot: (syslinux would wait there): nothing to boot"
	else
		choose_unattended
		CHOICE_FROM="$CHOICE_FROM, timeout at boot:"
	fi
}

prompt_choose() {
	local default
	default=$(config_get default)
	while :; do
		if ! prompt_ask; then
			prompt_timed_out && return 0
			continue
		fi
		case $TYPED in
		'')
			if [ -n "$default" ]; then
				CHOICE=$default CHOICE_FROM="DEFAULT (Enter at boot:)"
				return 0
			fi
			console_show "No DEFAULT or UI configuration directive found!"
			;;
		'?')
			prompt_labels "" >&2
			;;
		*)
			if [ -n "$WORDS" ] && [ "$C_ALLOWOPTIONS" = 0 ]; then
				console_show "Options after '$WORD' are not allowed here (ALLOWOPTIONS 0): type the label alone."
				continue
			fi
			CHOICE=$TYPED CHOICE_FROM="the boot: prompt"
			return 0
			;;
		esac
	done
}
