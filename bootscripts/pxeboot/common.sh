# shellcheck shell=dash
# common.sh: messages and small checks every boot script of the image uses.
#
# Exports: say (verbosity >= 1), debug (>= 2), warn, die (exit 1), is_uint,
#          hex_lower_set (LOWER).
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
