# shellcheck shell=dash
# console.sh: syslinux's rules around the operator: menu, prompt or neither, the settings
# they read, and what happens when a boot fails (ONERROR, then the prompt again).
#
# Exports: console_reset, console_directive KW REST, console_menu_directive REST,
#          console_label_begin, console_help_line TEXT
#                              parse hooks of config.sh: the settings C_* (TIMEOUT and
#                              TOTALTIMEOUT in 1/10 s, ALLOWOPTIONS, IMPLICIT, ONERROR,
#                              MENU TITLE, MENU MASTER PASSWD...) and the label fields
#                              menulabel menuhide haspasswd passwd help sepbefore
#                              disabled indent;
#          console_choose      syslinux's decision: a menu (UI, or DEFAULT naming a .c32
#                              that is no label), the boot: prompt (PROMPT 1, no DEFAULT
#                              but several labels, or a failed boot before), or DEFAULT at
#                              once; sets CHOICE, CHOICE_FROM, CHOICE_TYPED (1 when the
#                              operator typed it); gives up (exit 1) when a timeout would
#                              only retry a command line that failed already;
#          console_boot LINE   boots command line LINE: never returns when it boots (the
#                              dry run exits 0 after its report); returns 0 when LINE was
#                              a CONFIG label that loaded another configuration, 1 when it
#                              failed (the reason is on the console);
#          console_failed LINE remembers LINE as failed: the next console_choose prompts.
# Reads:   config.sh's accessors and set_label, entry_build/entry_split (choose.sh),
#          boot_fetch/boot_report/boot_kexec (boot.sh), localboot_run (localboot.sh).

CONSOLE_RETRY=0 CONSOLE_FAILED='' CONSOLE_HOPS=0

# leading_number TEXT: atoi(TEXT) for the non-negative values syslinux reads this way.
leading_number() {
	local digits=${1%%[!0-9]*}
	echo $((${digits:-0} + 0))
}

console_reset() {
	C_TIMEOUT=0 C_TOTALTIMEOUT=0 C_ALLOWOPTIONS=1 C_IMPLICIT=1 C_ONERROR='' C_SEPARATORS=0
	C_MENU_TITLE='' C_MENU_MASTER='' C_MENU_HASMASTER=0
	C_MENU_AUTOBOOT='Automatic boot in # second{,s}...' C_MENU_PASSPROMPT='Password required'
}

console_label_begin() {
	set_label menulabel ''
	set_label menuhide 0
	set_label haspasswd 0
	set_label passwd ''
	set_label help ''
	set_label disabled 0
	set_label indent 0
	set_label sepbefore "$C_SEPARATORS"
	C_SEPARATORS=0
}

# console_directive KW REST: the global directives of the operator's side.
console_directive() {
	case $1 in
	timeout) C_TIMEOUT=$(leading_number "$2") ;;
	totaltimeout) C_TOTALTIMEOUT=$(leading_number "$2") ;;
	allowoptions) C_ALLOWOPTIONS=$(leading_number "$2") ;;
	implicit) C_IMPLICIT=$(leading_number "$2") ;;
	onerror) C_ONERROR=$2 ;;
	*) return 1 ;;
	esac
}

# console_menu_directive "SUB REST": a MENU directive (SUB lower-cased). Label fields
# outside a LABEL are ignored, as syslinux ignores them outside a (sub)menu entry.
console_menu_directive() {
	local sub=${1%% *} rest=${1#* }
	case $sub in
	title) C_MENU_TITLE=$rest ;;
	separator) C_SEPARATORS=$((C_SEPARATORS + 1)) ;;
	master)
		case $rest in
		[Pp][Aa][Ss][Ss][Ww][Dd]*)
			rest=${rest#??????}
			C_MENU_MASTER=${rest#"${rest%%[! 	]*}"} C_MENU_HASMASTER=1
			;;
		esac
		;;
	autoboot) C_MENU_AUTOBOOT=$rest ;;
	passprompt) C_MENU_PASSPROMPT=$rest ;;
	onerror) C_ONERROR=$rest ;;
	label | hide | passwd | disable | disabled | indent)
		[ "$IN_LABEL" = 1 ] || return 0
		case $sub in
		label) set_label menulabel "$rest" ;;
		hide) set_label menuhide 1 ;;
		passwd) set_label haspasswd 1 && set_label passwd "$rest" ;;
		indent) set_label indent "$(leading_number "$rest")" ;;
		*) set_label disabled 1 ;;
		esac
		;;
	*) debug "MENU ${sub} ignored" ;;
	esac
	return 0
}

# console_help_line TEXT: one line of a TEXT HELP block of the current label.
console_help_line() {
	local help
	[ "$IN_LABEL" = 1 ] || return 0
	help=$(label_get "$N_LABELS" help)
	set_label help "${help:+$help
}$1"
}

console_choose() {
	CHOICE_TYPED=0
	if menu_wanted; then
		menu_choose
	elif [ "$CONSOLE_RETRY" = 1 ] || [ "$(config_get prompt)" != 0 ]; then
		prompt_choose
	elif [ -z "$(config_get default)" ] && [ "$(label_count)" -ge 2 ]; then
		console_show "No DEFAULT or UI configuration directive found!"
		prompt_choose
	else
		choose_unattended
	fi
	if [ "$CHOICE_TYPED" = 0 ] && console_has_failed "$CHOICE"; then
		die "nothing else to try: '$CHOICE' (from $CHOICE_FROM) failed already"
	fi
}

console_has_failed() {
	case $CONSOLE_FAILED in *"
$1
"*) return 0 ;; esac
	return 1
}

console_failed() {
	console_has_failed "$1" || CONSOLE_FAILED="${CONSOLE_FAILED:-
}$1
"
	CONSOLE_RETRY=1
}

# console_error TEXT: why a boot failed; the boot goes on (ONERROR, the prompt again).
console_error() {
	echo "$PXE_TAG: error: $*" >&2
	return 1
}

console_boot() {
	local first=${1%%[ 	]*} words='' dir location
	case $1 in *[\ \	]*) words=${1#*[ 	]} ;; esac
	entry_build "$1"
	if [ -n "$ENTRY_LABEL" ]; then first="label '$ENTRY_LABEL'"; else first="'$first'"; fi
	say "config $CONFIG_NAME: booting $first ${words:+with '$words' }from $CHOICE_FROM"
	if [ -z "$ENTRY_LABEL" ] && [ "$C_IMPLICIT" = 0 ]; then
		console_error "$first is no label, and IMPLICIT 0 boots labels only"
		return 1
	fi
	case $ENTRY_TYPE in
	kernel | linux)
		[ -n "$ENTRY_KERNEL" ] ||
			console_error "${ENTRY_LABEL:+label '$ENTRY_LABEL'}: no kernel to boot" || return 1
		# A subshell: a download that dies leaves this shell to say what comes next.
		(
			entry_split
			boot_fetch
			if [ "$DRY_RUN" = 1 ]; then
				boot_report
				exit 0
			fi
			boot_kexec
		) && [ "$DRY_RUN" = 1 ] && exit 0
		return 1
		;;
	localboot)
		(localboot_run "$ENTRY_KERNEL") && [ "$DRY_RUN" = 1 ] && exit 0
		return 1
		;;
	config)
		# CONFIG file [dir]: syslinux starts over with that file (and that directory as prefix).
		CONSOLE_HOPS=$((CONSOLE_HOPS + 1))
		[ "$CONSOLE_HOPS" -le "$PXE_CONFIG_HOPS" ] ||
			die "more than $PXE_CONFIG_HOPS CONFIG hops (a loop?)"
		say "label '$ENTRY_LABEL' loads configuration '$ENTRY_KERNEL'"
		config_try "$ENTRY_KERNEL" ||
			console_error "CONFIG '$ENTRY_KERNEL' of label '$ENTRY_LABEL' not found" || return 1
		dir=${ENTRY_KARGS%%[ 	]*}
		if [ -n "$dir" ]; then
			location=$(resolve "$dir") || exit 1
			PREFIX=${location#*::}
		fi
		CONSOLE_RETRY=0 CONSOLE_FAILED=''
		return 0
		;;
	*)
		console_error "${ENTRY_LABEL:+label '$ENTRY_LABEL': }'$ENTRY_KERNEL' is a ${ENTRY_TYPE} entry; only Linux kernels (KERNEL/LINUX) and LOCALBOOT can be booted here"
		return 1
		;;
	esac
}
