# shellcheck shell=dash
# console.sh: syslinux's rules around the operator: menu, prompt or neither, the settings
# they read, and what happens when a boot fails (ONERROR, then the prompt again).
#
# Exports: console_settings    the settings C_* of the configuration read (TIMEOUT and
#                              TOTALTIMEOUT in 1/10 s, ALLOWOPTIONS, IMPLICIT, ONERROR,
#                              MENU TITLE, MENU MASTER PASSWD...), from config.sh, which
#                              also keeps the label fields menulabel menuhide haspasswd
#                              passwd help sepbefore disabled indent;
#          console_choose      syslinux's decision: a menu (UI, or DEFAULT naming a .c32
#                              that is no label), the boot: prompt (PROMPT 1, no DEFAULT
#                              but several labels, or a failed boot before), or DEFAULT at
#                              once; sets CHOICE, CHOICE_FROM, CHOICE_TYPED (1 when the
#                              operator typed it), CHOICE_LABEL and CHOICE_ARGS (a label
#                              chosen as an entry, by index, and the words after it); gives up (exit 1) when a timeout would
#                              only retry a command line that failed already;
#          console_boot LINE [INDEX ARGS]  boots command line LINE (or label INDEX with
#                              ARGS, a menu entry; LINE then only names it): never returns when it boots (the
#                              dry run exits 0 after its report); returns 0 when LINE was
#                              a CONFIG label that loaded another configuration, 1 when it
#                              failed (the reason is on the console);
#          console_failed LINE remembers LINE as failed: the next console_choose prompts;
#          menu_wanted         whether the configuration asks for a menu (UI, or DEFAULT
#                              naming a .c32 module that is no label).
# Reads:   config.sh's accessors and set_label, entry_build/entry_split (choose.sh),
#          boot_fetch/boot_report/boot_kexec (boot.sh), localboot_run (localboot.sh),
#          menu_choose (menu.sh), prompt_choose and console_show (prompt.sh): those three
#          files are read when first needed (pxeboot.sh's need and its stubs).

CONSOLE_RETRY=0 CONSOLE_FAILED='' CONSOLE_HOPS=0

# The largest TIMEOUT and TOTALTIMEOUT taken (1/10 s): syslinux's documented maximum,
# "just below one hour"; a larger value is read as it (with a warning).
CONSOLE_TIMEOUT_MAX=35996

# leading_number TEXT: atoi(TEXT) for the non-negative values syslinux reads this way,
# at most 999999999 (more digits would overflow the shell's arithmetic).
leading_number() {
	local number=$1
	leading_number_set number
	echo "$number"
}

# bounded_timeout_set VAR KEY: VAR=the setting KEY (timeout, totaltimeout) capped at
# CONSOLE_TIMEOUT_MAX, without a subshell (but for the warning).
bounded_timeout_set() {
	local value
	config_set value "$2"
	leading_number_set value
	if [ "$value" -gt "$CONSOLE_TIMEOUT_MAX" ]; then
		warn "$(echo "$2" | tr a-z A-Z) $value is over $CONSOLE_TIMEOUT_MAX (1/10 s, about an hour): taken as $CONSOLE_TIMEOUT_MAX"
		value=$CONSOLE_TIMEOUT_MAX
	fi
	eval "$1=\$value"
}

# leading_number_set VAR: VAR=leading_number of its value (no subshell).
leading_number_set() {
	local digits
	eval "digits=\${$1%%[!0-9]*}"
	digits=${digits#"${digits%%[!0]*}"}
	[ "${#digits}" -le 9 ] || digits=999999999
	eval "$1=\$((\${digits:-0} + 0))"
}

# console_settings: the C_* settings of the configuration just read (config.sh's table).
console_settings() {
	local setting
	bounded_timeout_set C_TIMEOUT timeout
	bounded_timeout_set C_TOTALTIMEOUT totaltimeout
	config_set C_ALLOWOPTIONS allowoptions
	config_set C_IMPLICIT implicit
	config_set C_MENU_HASMASTER menuhasmaster
	for setting in C_ALLOWOPTIONS C_IMPLICIT C_MENU_HASMASTER; do
		leading_number_set "$setting"
	done
	config_set C_ONERROR onerror
	[ -n "$C_ONERROR" ] || config_set C_ONERROR menuonerror
	config_set C_MENU_TITLE menutitle
	config_set C_MENU_MASTER menumaster
	config_set C_MENU_AUTOBOOT menuautoboot
	C_MENU_AUTOBOOT=${C_MENU_AUTOBOOT:-Automatic boot in # second\{,s\}...}
	config_set C_MENU_PASSPROMPT menupassprompt
	C_MENU_PASSPROMPT=${C_MENU_PASSPROMPT:-Password required}
}

# menu_wanted: here, not in menu.sh: a boot without a menu never reads menu.sh.
menu_wanted() {
	local first ui index
	# config_set and label_find_set: no subshell (every boot asks, operator or not).
	config_set ui ui
	[ -n "$ui" ] && return 0
	config_set first default
	first=${first%%[ 	]*}
	case $first in
	*.c32 | *.C32) ! label_find_set index "$first" ;;
	*) return 1 ;;
	esac
}

console_choose() {
	local prompt default
	CHOICE_TYPED=0 CHOICE_LABEL='' CHOICE_ARGS=''
	console_settings
	config_set prompt prompt
	config_set default default
	if menu_wanted; then
		menu_choose
	elif [ "$CONSOLE_RETRY" = 1 ] || [ "$prompt" != 0 ]; then
		prompt_choose
	elif [ -z "$default" ]; then
		# syslinux 6 (ldlinux_auto_boot): without DEFAULT or UI nothing boots by
		# itself, not even a single LABEL: the message, then the boot: prompt.
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
	case $1 in *[\ \	]*) trimmed_set words "${1#*[ 	]}" ;; esac
	if [ -n "${2-}" ]; then
		entry_build_label "$2" "${3-}"
		words=${3-}
	else
		entry_build "$1"
	fi
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
			# A URL is the prefix itself; HOST::PATH gives its path ([v6]::path too).
			if url_is "$location"; then
				PREFIX=$location
			else
				loc_split "$location"
				PREFIX=$LOC_PATH
			fi
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
