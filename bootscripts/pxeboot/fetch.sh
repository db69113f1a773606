# shellcheck shell=dash
# fetch.sh: names in a configuration -> files on the local disk.
#
# A name is resolved once into a location, "SERVER::PATH" (syslinux's own notation), and
# a location is fetched by the backend chosen once at start-up:
#   tftp  busybox tftp from SERVER, with PXE_TFTP_RETRIES / _RETRY_DELAY / _BLOCKSIZE;
#         where the server announced a size (tsize), a file that arrived shorter is a
#         failed transfer (tftp_short), retried as any other;
#   dir   the dry run: PATH is read from a local directory standing in for every server.
# A URL location (http://, https://, ftp://, see url.sh) is fetched by fetch-url.sh's
# curl in the guest and in the dry run alike; tftp:// URLs become HOST::PATH.
# With FETCH_APPEND=1 a fetch adds the file to the end of LOCAL instead of replacing it
# (a failed attempt is cut off again): several initrds make one file without a copy.
#
# Exports: fetch_use BACKEND [DIR]      choose the backend (tftp, or dir with its root);
#          resolve NAME                 prints the location of NAME: SERVER::PATH or a
#                                       URL (dies on a URL it cannot fetch);
#          resolve_set NAME             the same into RESOLVED (no subshell);
#          shown LOCATION               prints it as messages show it (PATH alone on the
#                                       default server, a URL's user:password@ as ***@);
#                                       shown_set: into SHOWN;
#          url_masked URL               prints URL with its user:password@ as ***@;
#                                       url_masked_set: into MASKED;
#          printable NAME               prints NAME masked, control characters as '?';
#          fetch LOCATION LOCAL         0 fetched, 1 not there (an answer: not retried),
#                                       2 the transfer kept failing; FETCH_ERROR then says
#                                       why, as a phrase that follows the file's name;
#                                       FETCH_SIZE is LOCAL's size after a fetch;
#          fetch_required LOCATION WHAT LOCAL   fetch or die;
#          fetch_first WHAT LOCAL LOCATION...   the first LOCATION that is there (the
#                                       config search), FETCH_MISSES before it.
# Reads:   SERVER and PREFIX (facts.sh), WORK (scratch directory), control_chars
#          (common.sh). A SERVER that is an IPv6 address stands in brackets
#          ([fd77::1]::path, url.sh's loc_split).
#          url_batch_next, url_batch_stop, URL_BATCH_PID (fetch-url.sh): a file a
#          running curl already fetches is taken from it, any other fetch stops that
#          curl first. FETCH_APPEND_SIZE: in append mode, LOCAL's size as the caller
#          counted it (boot.sh's initrd parts), which spares a stat unless a curl was
#          stopped; one fetch uses it and clears it.
# Another backend is a function fetch_via_NAME SERVER PATH LOCAL with the same results
# (and FETCH_GOT, the bytes that arrived, when it counted them: fetch then needs no stat).

fetch_use() {
	FETCH_BACKEND=$1
	FETCH_ROOT=${2-}
	FETCH_ROOT_REAL=''
}

# resolve NAME: "::path" skips the prefix, "host::path" also names another server,
# anything else is relative to the path prefix.
resolve() {
	resolve_set "$1" && printf '%s\n' "$RESOLVED"
}

# resolve_set NAME: resolve's answer in RESOLVED, in this shell (no subshell: the config
# search resolves a dozen names; a URL dies here as resolve dies in its subshell).
resolve_set() {
	local full host path problem
	# A CR LF would end an HTTP request line and start a header of the name's making; no
	# control character is a file name's: refused before any server sees it.
	case $1 in
	*[[:cntrl:]]*) die "'$(printable "$1")' contains a control character (CR, LF, TAB, ESC...): refused before it reaches a server" ;;
	esac
	if url_is "$1"; then
		full=$1
	else
		case $1 in
		::* | *::*) full=$1 ;;
		*) url_is "$PREFIX" && full=$(url_join "$PREFIX" "$1") || full=$PREFIX$1 ;;
		esac
	fi
	if url_is "$full"; then
		url_check_set "$full"
		[ -z "$PROBLEM" ] || die "'$(url_masked "$full")' $PROBLEM"
		url_location_set "$full"
		RESOLVED=$LOCATION
		return 0
	fi
	loc_split "$full"
	host=$LOC_HOST path=$LOC_PATH
	RESOLVED=${host:-$SERVER}::$path
}

shown() {
	shown_set "$1"
	printf '%s\n' "$SHOWN"
}

# shown_set LOCATION: shown's answer in SHOWN, in this shell.
shown_set() {
	if url_is "$1"; then
		url_masked_set "$1"
		SHOWN=$MASKED
	elif loc_split "$1" && [ "$LOC_HOST" = "$SERVER" ]; then
		SHOWN=$LOC_PATH
	else
		SHOWN=$1
	fi
}

# printable NAME: NAME as messages may show it: its password masked, each control
# character as '?' (an ESC must not reach the console).
printable() {
	if url_is "$1"; then url_masked "$1"; else printf '%s\n' "$1"; fi | tr '\000-\037\177' '?'
}

# url_masked URL: URL with the user:password@ of its authority shown as ***@: credentials
# in a URL never reach the console.
url_masked() {
	url_masked_set "$1"
	printf '%s\n' "$MASKED"
}

# url_masked_set URL: url_masked's answer in MASKED, in this shell.
url_masked_set() {
	local rest=${1#*://} authority
	authority=${rest%%/*}
	case $authority in
	*@*) MASKED="${1%%://*}://***@${authority##*@}${rest#"$authority"}" ;;
	*) MASKED=$1 ;;
	esac
}

fetch() {
	local status before=0 after known=${FETCH_APPEND_SIZE-}
	FETCH_APPEND_SIZE=
	if url_batch_next "$1" "$2"; then
		# On its way already, in a curl fetching several planned files (fetch-url.sh):
		# nothing to remove, and a part began where that curl found the file.
		before=$URL_BATCH_AT_OFFSET
		FETCH_OFFSET=$before
	else
		# A curl stopped here may have written to LOCAL: then its size is looked at.
		[ -z "$URL_BATCH_PID" ] || known=
		url_batch_stop
		if [ "${FETCH_APPEND:-0}" = 1 ]; then
			if is_uint "$known"; then
				before=$known
			else
				before=$(stat -c %s "$2" 2>/dev/null || echo 0)
			fi
			# The backends append from there (no stat of their own).
			FETCH_OFFSET=$before
		elif [ -e "$2" ] || [ -L "$2" ]; then
			rm -f "$2"
		fi
	fi
	FETCH_GOT=
	if url_is "$1"; then
		fetch_via_url "$1" "$2"
	else
		loc_split "$1"
		"fetch_via_$FETCH_BACKEND" "$LOC_HOST" "$LOC_PATH" "$2"
	fi
	status=$?
	FETCH_OFFSET=
	if [ "$status" = 0 ]; then
		# A backend that counted what arrived (FETCH_GOT) spares a stat.
		if [ -n "$FETCH_GOT" ]; then
			after=$((before + FETCH_GOT))
		else
			after=$(stat -c %s "$2" 2>/dev/null || echo "$before")
		fi
		FETCH_SIZE=$after
		transfer_done $((after - before))
	fi
	return "$status"
}

# fetch_first WHAT LOCAL LOCATION...: the first of the LOCATIONS that is there, fetched
# into LOCAL. Over TFTP they are asked in order by one background job of plain tftp
# requests, followed by one transfer_watch (progress, memory check, stall timeout as for
# any file): the config search's dozen misses cost one tftp process each, not a watch,
# a ticker and their processes each. FETCH_MISSES says how many of the first LOCATIONS
# were answered "not there" (a TFTP server error). 0: the next one is in LOCAL, complete
# as announced; 1: none is there; 2: stopped at another failure, or not a TFTP search
# (another backend, a URL): the caller fetches from location FETCH_MISSES + 1 on, one by
# one with fetch, retries and all (a failed request here sets FETCH_TRIED=1 and
# FETCH_ERROR: fetch_via_tftp counts it as that location's first attempt); 3: that
# location is too big for memory (FETCH_ERROR), final as with fetch. WHAT names them in the debug lines ("trying WHAT X").
fetch_first() {
	local what=$1 local_file=$2 bs='' location status count="$WORK/fetch.misses"
	shift 2
	FETCH_MISSES=0 FETCH_TRIED=0
	[ "$FETCH_BACKEND" = tftp ] && [ "${FETCH_APPEND:-0}" = 0 ] || return 2
	for location; do
		url_is "$location" && return 2
	done
	if [ -n "$PXE_TFTP_BLOCKSIZE" ] && [ "$PXE_TFTP_BLOCKSIZE" != 0 ]; then
		bs="-b $PXE_TFTP_BLOCKSIZE"
	fi
	echo 0 >"$count" || return 2
	(
		# Stopped by transfer_watch (TERM): the running tftp goes too, and the misses
		# so far are told. Otherwise they are told once, at the end: no file written
		# per miss.
		trap 'kill "$child" 2>/dev/null; echo "$misses" >"$count"; exit 124' TERM
		misses=0 status=1
		for location; do
			loc_split "$location"
			if [ "$PXE_VERBOSITY" -ge 2 ]; then
				shown_set "$location"
				debug "trying $what $SHOWN"
				debug "tftp $LOC_HOST: get $LOC_PATH"
			fi
			# shellcheck disable=SC2086 # bs is two words or none
			tftp -g $bs -r "$LOC_PATH" -l "$local_file" "$LOC_HOST" 2>"$WORK/tftp.err" &
			child=$!
			if wait "$child"; then
				status=0
				break
			fi
			# A miss is busybox's "tftp: server error: (1) File not found"; anything else
			# ends the search here.
			fetch_tftp_error <"$WORK/tftp.err"
			case $FETCH_ERROR in
			*"server error"*) ;;
			*)
				status=2
				break
				;;
			esac
			misses=$((misses + 1))
		done
		echo "$misses" >"$count"
		exit "$status"
	) &
	transfer_watch $! "$local_file" 0 "$what"
	status=$?
	read -r FETCH_MISSES <"$count" && is_uint "$FETCH_MISSES" || FETCH_MISSES=0
	case $status in
	0)
		if ! tftp_short "$WORK/tftp.err"; then
			# The size transfer_watch found: no stat of our own.
			transfer_done "$TRANSFER_SIZE"
			return 0
		fi
		FETCH_ERROR="did not arrive as the server announced it (tsize): the transfer ended at ${TFTP_PERCENT:-less than 100}% of the announced size"
		;;
	1) return 1 ;;
	2) fetch_tftp_error <"$WORK/tftp.err" ;;
	124)
		FETCH_ERROR=$TRANSFER_ERROR
		fetch_undo "$local_file" 0
		# Too big for memory: final, as fetch_via_tftp has it.
		case $FETCH_ERROR in "("*) return 3 ;; esac
		;;
	*) return 2 ;;
	esac
	fetch_undo "$local_file" 0
	# A failed request counts as the first attempt of fetch's at that location.
	FETCH_TRIED=1
	return 2
}

fetch_required() {
	fetch "$1" "$3"
	case $? in
	0) return 0 ;;
	1) die "$2 '$(shown "$1")' $FETCH_ERROR" ;;
	*) die "cannot fetch $2 '$(shown "$1")' $FETCH_ERROR" ;;
	esac
}

# fetch_undo LOCAL OFFSET: a failed attempt leaves nothing behind (in append mode, LOCAL
# is cut back to the OFFSET bytes it had).
fetch_undo() {
	if [ "${FETCH_APPEND:-0}" = 1 ]; then
		truncate -s "$2" "$1"
	elif [ -e "$1" ] || [ -L "$1" ]; then
		rm -f "$1"
	fi
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
		if [ "${FETCH_APPEND:-0}" = 1 ]; then
			cat "$FETCH_ROOT/$2" >>"$3" && return 0
		else
			cp "$FETCH_ROOT/$2" "$3" && return 0
		fi
		FETCH_ERROR="from $FETCH_ROOT: cannot copy $FETCH_ROOT/$2"
		return 2
	fi
	FETCH_ERROR="not found under $FETCH_ROOT"
	return 1
}

# fetch_tftp_error: tftp's complaint on stdin as FETCH_ERROR, its lines joined by blanks
# (read by the shell: a miss in the config search starts no process for it).
fetch_tftp_error() {
	local line
	FETCH_ERROR=
	while IFS= read -r line || [ -n "$line" ]; do
		FETCH_ERROR="$FETCH_ERROR$line "
	done
}

# CR (a carriage return), once: busybox tftp's progress meter redraws its line with it.
control_chars

# tftp_short LOG: true when busybox tftp's progress meter in LOG says that the file did
# not arrive as announced. The meter exists only when the server answered the tsize
# option (RFC 2349); busybox draws it at most once a second, and always at the end when
# the announced size arrived (100%), then ends it with a newline. So a LOG holding that
# newline alone (the size was never reached), or whose last drawing is not 100%, is a
# file that arrived shorter (or longer) than announced. No meter (no tsize): false.
# TFTP_PERCENT is the last drawing's percentage, if any.
tftp_short() {
	local line last='' bare=0
	TFTP_PERCENT=
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'') bare=1 ;;
		*%*) last=$line ;;
		esac
	done <"$1"
	[ -n "$last" ] || return $((1 - bare))
	last=${last%"$CR"}
	last=${last##*"$CR"}
	# The percentage is the last one on the line: a file name may hold a % too.
	TFTP_PERCENT=${last%"%"*}
	TFTP_PERCENT=${TFTP_PERCENT##* }
	case $TFTP_PERCENT in '' | *[!0-9]*) return 1 ;; esac
	[ "$TFTP_PERCENT" != 100 ]
}

fetch_via_tftp() {
	local try=${FETCH_TRIED:-0} bs='' offset=0
	# fetch_first's failed request at this location was the first attempt.
	FETCH_TRIED=0
	if [ "$try" -gt 0 ]; then
		FETCH_ERROR=${FETCH_ERROR:-tftp failed}
		if [ "$try" -ge "$PXE_TFTP_RETRIES" ]; then
			FETCH_ERROR="from TFTP server $1 after $try attempts: $FETCH_ERROR"
			return 2
		fi
		sleep "$PXE_TFTP_RETRY_DELAY"
	fi
	[ "${FETCH_APPEND:-0}" = 1 ] && offset=${FETCH_OFFSET:-$(stat -c %s "$3" 2>/dev/null || echo 0)}
	if [ -n "$PXE_TFTP_BLOCKSIZE" ] && [ "$PXE_TFTP_BLOCKSIZE" != 0 ]; then
		bs="-b $PXE_TFTP_BLOCKSIZE"
	fi
	while :; do
		try=$((try + 1))
		debug "tftp $1: get $2 (attempt $try of $PXE_TFTP_RETRIES)"
		# In the background, for transfer.sh's progress lines and memory check.
		if [ "${FETCH_APPEND:-0}" = 1 ]; then
			# shellcheck disable=SC2086 # bs is two words or none
			tftp -g $bs -r "$2" -l - "$1" 2>"$WORK/tftp.err" >>"$3" &
		else
			# shellcheck disable=SC2086 # bs is two words or none
			tftp -g $bs -r "$2" -l "$3" "$1" 2>"$WORK/tftp.err" &
		fi
		transfer_watch $! "$3" "$offset" "$2"
		case $? in
		0)
			# What arrived against what the server announced, as for HTTP and FTP.
			# transfer_watch's size of it spares fetch a stat (FETCH_GOT).
			if ! tftp_short "$WORK/tftp.err"; then
				FETCH_GOT=$TRANSFER_SIZE
				return 0
			fi
			fetch_undo "$3" "$offset"
			FETCH_ERROR="did not arrive as the server announced it (tsize): the transfer ended at ${TFTP_PERCENT:-less than 100}% of the announced size"
			;;
		124)
			fetch_undo "$3" "$offset"
			FETCH_ERROR=$TRANSFER_ERROR
			case $FETCH_ERROR in "("*) return 2 ;; esac # too big: no retry
			;;
		*)
			fetch_undo "$3" "$offset"
			fetch_tftp_error <"$WORK/tftp.err"
			;;
		esac
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
