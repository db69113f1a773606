# shellcheck shell=dash
# fetch.sh: names in a configuration -> files on the local disk.
#
# A name is resolved once into a location, "SERVER::PATH" (syslinux's own notation), and
# a location is fetched by the backend chosen once at start-up:
#   tftp  busybox tftp from SERVER, with PXE_TFTP_RETRIES / _RETRY_DELAY / _BLOCKSIZE;
#   dir   the dry run: PATH is read from a local directory standing in for every server.
#
# Exports: fetch_use BACKEND [DIR]      choose the backend (tftp, or dir with its root);
#          resolve NAME                 prints the location of NAME (dies on a URL);
#          shown LOCATION               prints it as messages show it (PATH alone on the
#                                       default server);
#          fetch LOCATION LOCAL         0 fetched, 1 not there (an answer: not retried),
#                                       2 the transfer kept failing; FETCH_ERROR then says
#                                       why, as a phrase that follows the file's name;
#          fetch_required LOCATION WHAT LOCAL   fetch or die.
# Reads:   SERVER and PREFIX (facts.sh), WORK (scratch directory).
# Another backend is a function fetch_via_NAME SERVER PATH LOCAL with the same results.

fetch_use() {
	FETCH_BACKEND=$1
	FETCH_ROOT=${2-}
	FETCH_ROOT_REAL=''
}

# resolve NAME: "::path" skips the prefix, "host::path" also names another server,
# anything else is relative to the path prefix.
resolve() {
	local full host path
	case $1 in
	*://*) die "'$1' is a URL: only TFTP paths are supported" ;;
	::* | *::*) full=$1 ;;
	*) full=$PREFIX$1 ;;
	esac
	case $full in
	*::*) host=${full%%::*} path=${full#*::} ;;
	*) host='' path=$full ;;
	esac
	printf '%s::%s\n' "${host:-$SERVER}" "$path"
}

shown() {
	if [ "${1%%::*}" = "$SERVER" ]; then
		printf '%s\n' "${1#*::}"
	else
		printf '%s\n' "$1"
	fi
}

fetch() {
	rm -f "$2"
	"fetch_via_$FETCH_BACKEND" "${1%%::*}" "${1#*::}" "$2"
}

fetch_required() {
	fetch "$1" "$3"
	case $? in
	0) return 0 ;;
	1) die "$2 '$(shown "$1")' $FETCH_ERROR" ;;
	*) die "cannot fetch $2 '$(shown "$1")' $FETCH_ERROR" ;;
	esac
}

# inside_root PATH: true when PATH, taken relative to a root directory, never climbs out
# of it ("a/../b" stays inside, "../b" and "a/../../b" do not).
inside_root() {
	local IFS=/ part depth=0
	# shellcheck disable=SC2086 # split at the slashes, globbing is off
	set -- $1
	for part; do
		case $part in
		'' | .) ;;
		..)
			depth=$((depth - 1))
			[ "$depth" -ge 0 ] || return 1
			;;
		*) depth=$((depth + 1)) ;;
		esac
	done
	return 0
}

# fetch_via_dir SERVER PATH LOCAL: the dry run's TFTP root holds every server's files.
# Like a TFTP server, it serves nothing outside its root: a name that climbs out of it,
# or a symbolic link that leads out, is refused as an access violation.
fetch_via_dir() {
	local real
	[ "$1" = "$SERVER" ] || debug "dry run: '$1::' is read from $FETCH_ROOT too"
	if ! inside_root "$2"; then
		FETCH_ERROR="is outside the TFTP root $FETCH_ROOT: refused (a TFTP server answers: access violation)"
		warn "'$2' $FETCH_ERROR"
		return 1
	fi
	if [ -e "$FETCH_ROOT/$2" ]; then
		[ -n "$FETCH_ROOT_REAL" ] || FETCH_ROOT_REAL=$(readlink -f "$FETCH_ROOT")
		real=$(readlink -f "$FETCH_ROOT/$2")
		case $real in
		"$FETCH_ROOT_REAL"/*) ;;
		*)
			FETCH_ERROR="is outside the TFTP root $FETCH_ROOT (a link to $real): refused (a TFTP server answers: access violation)"
			warn "'$2' $FETCH_ERROR"
			return 1
			;;
		esac
	fi
	if [ -f "$FETCH_ROOT/$2" ]; then
		cp "$FETCH_ROOT/$2" "$3" && return 0
		FETCH_ERROR="from $FETCH_ROOT: cannot copy $FETCH_ROOT/$2"
		return 2
	fi
	FETCH_ERROR="not found under $FETCH_ROOT"
	return 1
}

fetch_via_tftp() {
	local try=0 bs=
	if [ -n "$PXE_TFTP_BLOCKSIZE" ] && [ "$PXE_TFTP_BLOCKSIZE" != 0 ]; then
		bs="-b $PXE_TFTP_BLOCKSIZE"
	fi
	while :; do
		try=$((try + 1))
		debug "tftp $1: get $2 (attempt $try of $PXE_TFTP_RETRIES)"
		# shellcheck disable=SC2086 # bs is two words or none
		if tftp -g $bs -r "$2" -l "$3" "$1" 2>"$WORK/tftp.err"; then
			return 0
		fi
		rm -f "$3"
		FETCH_ERROR=$(tr '\n' ' ' <"$WORK/tftp.err")
		FETCH_ERROR=${FETCH_ERROR:-tftp failed}
		case $FETCH_ERROR in
		*"server error"*)
			FETCH_ERROR="not found on TFTP server $1: $FETCH_ERROR"
			return 1
			;;
		esac
		if [ "$try" -ge "$PXE_TFTP_RETRIES" ]; then
			FETCH_ERROR="from TFTP server $1 after $try attempts: $FETCH_ERROR"
			return 2
		fi
		sleep "$PXE_TFTP_RETRY_DELAY"
	done
}
