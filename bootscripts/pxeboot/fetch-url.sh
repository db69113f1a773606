# shellcheck shell=dash
# fetch-url.sh: http://, https:// and ftp:// locations, fetched by busybox wget.
#
# busybox 1.35's wget follows redirects itself (up to 20) and has no working timeout
# option (-T crashes Debian's build), so the transfer runs in the background under
# transfer_watch: it reads wget -S's headers as they come, stops a chain of more than
# PXE_HTTP_REDIRECTS redirects (lpxelinux follows at most 5), checks Content-Length
# against memory before the body is kept, and stops a transfer that went quiet.
# An answer (HTTP 4xx but 408/429, FTP 550) is "not there" and is not retried; a refused
# connection, a 5xx or a stall is retried PXE_HTTP_RETRIES times, as TFTP is.
# https works with busybox's own TLS 1.2 client, which does not verify certificates.
#
# Exports: fetch_via_url URL LOCAL   0 fetched, 1 not there, 2 kept failing, FETCH_ERROR
#                                    as fetch.sh's backends; with FETCH_APPEND=1 the file
#                                    is added to the end of LOCAL (a failed attempt is cut
#                                    off again), so several initrds make one file without
#                                    a second copy.
# Reads:   PXE_HTTP_RETRIES PXE_HTTP_RETRY_DELAY, WORK, and transfer.sh's settings.

# url_error LOG: wget's last complaint, on one line.
url_error() {
	local text
	text=$(grep '^wget: ' "$1" 2>/dev/null | tail -n 1)
	text=${text#wget: }
	echo "${text:-wget failed}"
}

# url_answer ERROR: true when ERROR is the server's final word on the file.
url_answer() {
	case $1 in
	*"server returned error: HTTP/"*" 408 "* | *"server returned error: HTTP/"*" 429 "*) return 1 ;;
	*"server returned error: HTTP/"*" 4"[0-9][0-9]" "*) return 0 ;;
	*"bad response to RETR: 550"* | *"bad response to RETR: 450"*) return 0 ;;
	esac
	return 1
}

fetch_via_url() {
	local url=$1 local_file=$2 try=0 offset=0 status log="$WORK/wget.log" problem
	problem=$(url_check "$url")
	if [ -n "$problem" ]; then
		FETCH_ERROR="($problem)"
		return 2
	fi
	[ "${FETCH_APPEND:-0}" = 1 ] && offset=$(stat -c %s "$local_file" 2>/dev/null || echo 0)
	while :; do
		try=$((try + 1))
		debug "wget $url (attempt $try of $PXE_HTTP_RETRIES)"
		if [ "${FETCH_APPEND:-0}" = 1 ]; then
			wget -q -S -O - "$url" 2>"$log" >>"$local_file" &
		else
			wget -q -S -O "$local_file" "$url" 2>"$log" &
		fi
		transfer_watch $! "$local_file" "$offset" "$url" "$log"
		status=$?
		[ "$status" = 0 ] && return 0
		fetch_undo "$local_file" "$offset"
		if [ "$status" = 124 ]; then
			FETCH_ERROR=$TRANSFER_ERROR
			case $FETCH_ERROR in
			"after more than "* | "("*) return 2 ;;
			esac
		else
			FETCH_ERROR=$(url_error "$log")
			if url_answer "$FETCH_ERROR"; then
				FETCH_ERROR="not found: $FETCH_ERROR"
				return 1
			fi
		fi
		if [ "$try" -ge "$PXE_HTTP_RETRIES" ]; then
			FETCH_ERROR="after $try attempts: $FETCH_ERROR"
			return 2
		fi
		sleep "$PXE_HTTP_RETRY_DELAY"
	done
}
