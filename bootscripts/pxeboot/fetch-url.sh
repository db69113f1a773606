# shellcheck shell=dash
# fetch-url.sh: http://, https:// and ftp:// locations, fetched by Debian's curl.
#
# One curl process per transfer, in the background under transfer_watch (transfer.sh),
# which reads the headers curl writes (-D) as they come: it checks Content-Length
# against memory before the body is kept, stops a transfer that went quiet, and prints
# progress. curl follows at most PXE_HTTP_REDIRECTS redirects itself (lpxelinux follows
# at most 5); an https name is only ever redirected to https, so no hop is unverified.
#
# What curl's exit status means here:
#   - an answer (HTTP 4xx but 408/429, FTP 550 / access denied) is "not there": 1, not
#     retried;
#   - a refusal (the certificate does not verify, the TLS handshake fails, a redirect to
#     a scheme not allowed, too many redirects) is final: 2 at once, "refused: REASON";
#   - anything else (refused connection, 5xx, a body cut short, a stall) is retried
#     PXE_HTTP_RETRIES times, as TFTP is.
# https is verified against the image's CA bundle (PXE_HTTPS_CA, under PXE_ROOT in a dry
# run) and the host name, never silently not: PXE_HTTPS_INSECURE=True (the recipe's
# https_insecure) skips the check, with a warning on the console for every transfer.
# Certificates carry validity dates, so the check needs the clock right: a refusal for
# an expired or not yet valid certificate says what this system's clock says.
#
# Exports: fetch_via_url URL LOCAL   0 fetched, 1 not there, 2 kept failing or refused,
#                                    FETCH_ERROR as fetch.sh's backends; with
#                                    FETCH_APPEND=1 the file is added to the end of LOCAL
#                                    (a failed attempt is cut off again), so several
#                                    initrds make one file without a second copy.
# Reads:   PXE_HTTP_RETRIES PXE_HTTP_RETRY_DELAY PXE_HTTP_REDIRECTS PXE_HTTPS_CA
#          PXE_HTTPS_INSECURE, PXE_ROOT, WORK, and transfer.sh's settings.

# url_curl_says LOG: curl's own complaint ("curl: (60) SSL ...") without its prefix.
url_curl_says() {
	local text
	text=$(grep '^curl: ([0-9]*) ' "$1" 2>/dev/null | tail -n 1)
	text=${text#curl: (*) }
	echo "${text:-curl failed}"
}

# url_status HEADERS: the last HTTP status line curl wrote ("HTTP/1.1 404 Not Found").
url_status() {
	grep '^HTTP/' "$1" 2>/dev/null | tail -n 1 | tr -d '\r'
}

# url_clock: what this system's clock says, for refusals that depend on it.
url_clock() { date -u '+%Y-%m-%d %H:%M UTC' 2>/dev/null; }

# url_verdict STATUS LOG HEADERS: sets FETCH_ERROR from curl's exit STATUS, and returns 1
# for an answer (not there), 2 for a refusal (final), 3 for a failure worth retrying.
url_verdict() {
	local says
	says=$(url_curl_says "$2")
	case $1 in
	22)
		says=$(url_status "$3")
		FETCH_ERROR="server returned error: ${says:-HTTP error}"
		case $says in
		HTTP/*" 408"* | HTTP/*" 429"*) return 3 ;;
		HTTP/*" 4"[0-9][0-9]*) return 1 ;;
		esac
		return 3
		;;
	9 | 78) FETCH_ERROR="not found: $says" && return 1 ;;
	47) FETCH_ERROR="after more than ${PXE_HTTP_REDIRECTS:-5} redirects" && return 2 ;;
	1) FETCH_ERROR="refused: $says (an https name is only redirected to https)" && return 2 ;;
	77) FETCH_ERROR="refused: no CA certificates at $PXE_HTTPS_CA in this image (the recipe's https_ca, or Debian's ca-certificates in the sysroot)" && return 2 ;;
	35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 80 | 82 | 83 | 90 | 91)
		says=${says#SSL certificate problem: }
		says=${says#SSL: }
		case $says in
		*"expired"* | *"not yet valid"*) says="$says (this system's clock says $(url_clock))" ;;
		esac
		FETCH_ERROR="refused: $says"
		return 2
		;;
	7) FETCH_ERROR="can't connect to remote host: $says" ;;
	18) FETCH_ERROR="the server ended the transfer early: $says" ;;
	*) FETCH_ERROR=$says ;;
	esac
	return 3
}

# url_curl URL LOCAL LOG HEADERS: starts curl in the background ($! is its process).
url_curl() {
	local url=$1 local_file=$2 log=$3 headers=$4 redir=http,https,ftp
	# -q first: no ~/.curlrc; -g: [v6] literals are addresses, not globs.
	set -- -q -g -sS --fail -L --max-redirs "${PXE_HTTP_REDIRECTS:-5}" \
		--proto =http,https,ftp --cacert "$PXE_ROOT$PXE_HTTPS_CA" \
		--capath "$PXE_ROOT${PXE_HTTPS_CA%/*}" -D "$headers" \
		-w '%{stderr}fetch-url: %{http_code} %{size_download} %{content_type}\n'
	url_scheme_set "$url"
	case $SCHEME in
	https)
		redir=https
		case ${PXE_HTTPS_INSECURE:-False} in
		True | true | 1)
			set -- "$@" -k
			warn "'$(url_masked "$url")': certificate not verified (https_insecure is set): anyone on the path can hand over another file"
			;;
		esac
		;;
	esac
	if [ "${FETCH_APPEND:-0}" = 1 ]; then
		curl "$@" --proto-redir "=$redir" -- "$url" 2>"$log" >>"$local_file" &
	else
		curl "$@" --proto-redir "=$redir" -o "$local_file" -- "$url" 2>"$log" &
	fi
}

fetch_via_url() {
	local url=$1 local_file=$2 try=0 offset=0 status log="$WORK/curl.log" headers="$WORK/curl.headers" masked
	url_check_set "$url"
	if [ -n "$PROBLEM" ]; then
		FETCH_ERROR="($PROBLEM)"
		return 2
	fi
	url_masked_set "$url"
	masked=$MASKED
	[ "${FETCH_APPEND:-0}" = 1 ] && offset=${FETCH_OFFSET:-$(stat -c %s "$local_file" 2>/dev/null || echo 0)}
	while :; do
		try=$((try + 1))
		debug "curl $masked (attempt $try of $PXE_HTTP_RETRIES)"
		: >"$headers"
		url_curl "$url" "$local_file" "$log" "$headers"
		transfer_watch $! "$local_file" "$offset" "$masked" "$headers"
		status=$?
		[ "$status" = 0 ] && return 0
		fetch_undo "$local_file" "$offset"
		if [ "$status" = 124 ]; then
			FETCH_ERROR=$TRANSFER_ERROR
			case $FETCH_ERROR in
			"after more than "* | "("*) return 2 ;;
			esac
		else
			url_verdict "$status" "$log" "$headers"
			case $? in
			1)
				case $FETCH_ERROR in "not found"*) ;; *) FETCH_ERROR="not found: $FETCH_ERROR" ;; esac
				return 1
				;;
			2) return 2 ;;
			esac
		fi
		if [ "$try" -ge "$PXE_HTTP_RETRIES" ]; then
			FETCH_ERROR="after $try attempts: $FETCH_ERROR"
			return 2
		fi
		sleep "$PXE_HTTP_RETRY_DELAY"
	done
}
