# shellcheck shell=dash
# common.sh: messages and small checks every boot script of the image uses.
#
# Exports: say (verbosity >= 1), debug (>= 2), warn, die (exit 1), is_uint,
#          hex_lower_set (LOWER), control_chars (DEL BS TAB KILL CR US), nic_up IFACE
#          (IFACE up by the kernel's /sys; false, with ip's message, when it cannot).
# Reads:   PXE_TAG (who is speaking: pxeboot, init, udhcpc), PXE_VERBOSITY.
# Messages go to stderr, so that a dry run's stdout holds only its result.

say() { [ "$PXE_VERBOSITY" -ge 1 ] && echo "$PXE_TAG: $*" >&2; return 0; }
debug() { [ "$PXE_VERBOSITY" -ge 2 ] && echo "$PXE_TAG: $*" >&2; return 0; }
warn() { echo "$PXE_TAG: warning: $*" >&2; }
die() { echo "$PXE_TAG: error: $*" >&2; exit 1; }

# is_uint TEXT: true when TEXT is a non-empty string of decimal digits.
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; return 0; }

# hex_lower_set TEXT: TEXT with A-F as a-f (and ':' as '-' when the second argument is
# "dashes") in LOWER, character by character in the shell (tr would be a process).
hex_lower_set() {
	local rest=$1 c
	LOWER=
	while [ -n "$rest" ]; do
		c=${rest%"${rest#?}"}
		rest=${rest#?}
		case $c in
		A) c=a ;;
		B) c=b ;;
		C) c=c ;;
		D) c=d ;;
		E) c=e ;;
		F) c=f ;;
		:) [ "${2-}" = dashes ] && c=- ;;
		esac
		LOWER=$LOWER$c
	done
}

# control_chars: DEL, BS, TAB, KILL (^U), CR and US (the ASCII unit separator) in those
# variables, made once for every library file that needs them by one printf in one
# subshell (each $(printf) is a process: ~3 ms under TCG).
# shellcheck disable=SC2034 # for the library files that call it
control_chars() {
	local all
	[ -z "${CONTROL_CHARS-}" ] || return 0
	# The dot keeps a trailing control character from $()'s newline stripping.
	all=$(printf '\177\b\t\025\r\037.')
	DEL=${all%"${all#?}"} all=${all#?}
	BS=${all%"${all#?}"} all=${all#?}
	TAB=${all%"${all#?}"} all=${all#?}
	KILL=${all%"${all#?}"} all=${all#?}
	CR=${all%"${all#?}"} all=${all#?}
	US=${all%"${all#?}"}
	CONTROL_CHARS=1
}

# nic_up IFACE: IFACE up, by writing its sysfs flags with IFF_UP (0x1) added: the kernel
# changes them as for `ip link set dev IFACE up` (dev_change_flags), without that process
# (~10-30 ms under TCG, on the way to the lease). init's dhcp and udhcpc's deconfig event
# both use it. Where the write is refused (no sysfs, no such interface, no permission),
# `ip` does it and says why it cannot; an interface up already is left as it is.
nic_up() {
	local flags
	if read -r flags 2>/dev/null <"/sys/class/net/$1/flags"; then
		case $flags in
		0x*)
			[ $((flags & 1)) = 0 ] || return 0
			{ echo $((flags | 1)) >"/sys/class/net/$1/flags"; } 2>/dev/null && return 0
			;;
		esac
	fi
	ip link set dev "$1" up
}
