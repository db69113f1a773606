# shellcheck shell=dash
# fetch-url.sh: http://, https:// and ftp:// locations, fetched by Debian's curl.
#
# curl runs in the background under transfer_watch (transfer.sh), which reads the
# headers curl writes (-D) as they come: it checks Content-Length against memory before
# the body is kept, stops a transfer that went quiet, and prints progress. curl follows
# at most PXE_HTTP_REDIRECTS redirects itself (lpxelinux follows at most 5); an https
# name is only ever redirected to https, so no hop is unverified.
#
# One curl for several files: starting curl costs about 0.3 s of a TCG guest's CPU (its
# dynamic loader: ~25 libraries), more than its transfer of a kernel. So boot_fetch
# tells this file, before the first byte, which files it will ask for and in what order
# (url_plan: kernel, its .sig, each initrd part and its .sig). When fetch_via_url is
# asked for the plan's next file, one curl starts for it and for the planned URL files
# after it (--next: each file its own -o, -D, -w and options; --fail-early: the first
# failure ends the process, so a kernel that is not there fetches no initrd). Each later
# fetch_via_url of those files follows its own transfer inside that process: curl's
# stderr is a FIFO, and a small reader (url_waiter) ends with that file's -w line, so
# transfer_watch wakes at the file's end as it does at a process's end. Everything else
# is per file as with one process per file: progress, memory check, stall timeout,
# headers, verdict, messages. A failure is retried from that file on (a new process for
# it and the planned files after it). One initrd part per process: the zero pad between
# parts is written by the shell once the part before has arrived, so a second part
# starts a process of its own (with its .sig). A file the plan does not hold, or not
# next, is fetched by a curl of its own, as is a plan's file that has no other URL file
# beside it (a TFTP kernel's lone URL initrd without signatures).
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
# Exports: fetch_via_url URL LOCAL   0 fetched (FETCH_GOT bytes), 1 not there, 2 kept
#                                    failing or refused, FETCH_ERROR as fetch.sh's backends; with
#                                    FETCH_APPEND=1 the file is added to the end of LOCAL
#                                    (a failed attempt is cut off again), so several
#                                    initrds make one file without a second copy;
#          url_plan LOCATION LOCAL [append]   the next file fetch will be asked for (any
#                                    location: a TFTP one ends a process's files there);
#                                    url_plan_reset forgets the plan (and stops its curl);
#          url_batch_next LOCATION LOCAL   true when a running curl delivers LOCATION into
#                                    LOCAL next (fetch.sh then removes nothing; the part's
#                                    offset in LOCAL is URL_BATCH_AT_OFFSET);
#          url_batch_stop                 stops that curl, its files not taken yet removed
#                                    (an initrd part cut back): for a boot that ends early.
# Reads:   PXE_HTTP_RETRIES PXE_HTTP_RETRY_DELAY PXE_HTTP_REDIRECTS PXE_HTTPS_CA
#          PXE_HTTPS_INSECURE, PXE_ROOT, WORK, and transfer.sh's settings. Uses fd 3 (the
#          FIFO's read end, $WORK/curl.fifo) while a curl for several files runs; that FIFO
#          is made ahead with transfer.sh's (pxeboot.sh's transfer_prepare, while DHCP
#          runs), else here when first needed. pxeboot.sh reads this file only when a boot
#          first plans or fetches a URL (need fetch-url; its stubs stand in until then).

URL_PLAN_N=0 URL_PLAN_AT=1 URL_BATCH_PID=''

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

# url_insecure_warn URL: the console's warning for an https transfer not verified.
url_insecure_warn() {
	case ${PXE_HTTPS_INSECURE:-False} in True | true | 1) ;; *) return 0 ;; esac
	url_scheme_set "$1"
	[ "$SCHEME" = https ] || return 0
	url_masked_set "$1"
	warn "'$MASKED': certificate not verified (https_insecure is set): anyone on the path can hand over another file"
}

# url_curl LOG OUT URL LOCAL HEADERS [URL LOCAL HEADERS]...: starts one curl in the
# background ($! is its process, URL_CURL_START when, 1/100 s since boot) for the URLs
# in turn, each into its LOCAL file (- for curl's stdout, appended to OUT) with its
# headers in HEADERS; curl's stderr (messages, and one -w line per URL: "fetch-url:
# EXIT HTTP-CODE SIZE REDIRECTS CONTENT-LENGTH", transfer.sh's curl account) goes to LOG.
url_curl() {
	local log=$1 out=$2 count url local_file headers redir
	shift 2
	count=$(($# / 3))
	# -q first: no ~/.curlrc. Global: quiet but for errors, and the first failure ends
	# the process (the files after it are fetched again, if at all, by another one).
	set -- "$@" -q -sS --fail-early
	while [ "$count" -gt 0 ]; do
		url=$1 local_file=$2 headers=$3
		shift 3
		redir=http,https,ftp
		url_scheme_set "$url"
		[ "$SCHEME" = https ] && redir=https
		# -g: [v6] literals are addresses, not globs; --url: a URL is never an option.
		set -- "$@" -g --fail -L --max-redirs "${PXE_HTTP_REDIRECTS:-5}" \
			--proto =http,https,ftp --proto-redir "=$redir" --cacert "$PXE_ROOT$PXE_HTTPS_CA" \
			--capath "$PXE_ROOT${PXE_HTTPS_CA%/*}" -D "$headers" \
			-w '%{stderr}fetch-url: %{exitcode} %{http_code} %{size_download} %{num_redirects} %header{content-length}\n'
		if [ "$SCHEME" = https ]; then
			case ${PXE_HTTPS_INSECURE:-False} in True | true | 1) set -- "$@" -k ;; esac
		fi
		[ "$local_file" = - ] || set -- "$@" -o "$local_file"
		set -- "$@" --url "$url"
		count=$((count - 1))
		[ "$count" = 0 ] || set -- "$@" --next
	done
	uptime_cs_set
	URL_CURL_START=$UPTIME_CS
	if [ -n "$out" ]; then
		curl "$@" 2>"$log" >>"$out" &
	else
		curl "$@" 2>"$log" &
	fi
}

# url_plan LOCATION LOCAL [append]: the next file fetch will be asked for ("append": an
# initrd part added to LOCAL); any location, so that a TFTP file ends a process's files.
url_plan() {
	local part=0
	[ -z "${3-}" ] || part=1
	URL_PLAN_N=$((URL_PLAN_N + 1))
	eval "URL_PLAN_LOC_$URL_PLAN_N=\$1 URL_PLAN_LOCAL_$URL_PLAN_N=\$2 URL_PLAN_APPEND_$URL_PLAN_N=\$part"
}

url_plan_reset() {
	url_batch_stop
	URL_PLAN_N=0 URL_PLAN_AT=1
}

# url_plan_find LOCATION LOCAL: true when the plan holds LOCATION into LOCAL (added to
# it when FETCH_APPEND=1) at or after the file it is at; URL_PLAN_AT is then that file
# (the ones before it were not asked for: a TFTP file, or a signature not checked).
url_plan_find() {
	local i=$URL_PLAN_AT loc local_file part
	while [ "$i" -le "$URL_PLAN_N" ]; do
		eval "loc=\$URL_PLAN_LOC_$i local_file=\$URL_PLAN_LOCAL_$i part=\$URL_PLAN_APPEND_$i"
		if [ "$loc" = "$1" ] && [ "$local_file" = "$2" ] && [ "$part" = "${FETCH_APPEND:-0}" ]; then
			URL_PLAN_AT=$i
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

url_batch_next() {
	local loc local_file part
	[ -n "$URL_BATCH_PID" ] || return 1
	eval "loc=\$URL_PLAN_LOC_$URL_BATCH_NEXT local_file=\$URL_PLAN_LOCAL_$URL_BATCH_NEXT part=\$URL_PLAN_APPEND_$URL_BATCH_NEXT"
	[ "$loc" = "$1" ] && [ "$local_file" = "$2" ] && [ "$part" = "${FETCH_APPEND:-0}" ] || return 1
	URL_BATCH_AT_OFFSET=0
	[ "$URL_BATCH_NEXT" != "$URL_BATCH_PART" ] || URL_BATCH_AT_OFFSET=$URL_BATCH_OFFSET
	return 0
}

# url_batch_start URL LOCAL OFFSET: when URL into LOCAL (from OFFSET on, for a part) is
# in the plan and planned URL files follow it, starts one curl for them all (up to a
# TFTP file or a second initrd part) and returns 0; else 1, and nothing runs.
url_batch_start() {
	local i offset=$3 loc local_file part out='' fifo="$WORK/curl.fifo"
	url_batch_stop
	url_plan_find "$1" "$2" || return 1
	URL_BATCH_PART=0 URL_BATCH_OFFSET=0
	i=$URL_PLAN_AT
	set --
	while [ "$i" -le "$URL_PLAN_N" ]; do
		eval "loc=\$URL_PLAN_LOC_$i local_file=\$URL_PLAN_LOCAL_$i part=\$URL_PLAN_APPEND_$i"
		url_is "$loc" || break
		if [ "$part" = 1 ]; then
			# One part per process, and a part after this process's first file only when
			# it begins an empty file (the first part: no pad goes before it).
			[ -z "$out" ] || break
			if [ "$i" = "$URL_PLAN_AT" ]; then
				URL_BATCH_OFFSET=$offset
			elif [ -s "$local_file" ]; then
				break
			fi
			out=$local_file URL_BATCH_PART=$i local_file=-
		elif [ "$i" != "$URL_PLAN_AT" ]; then
			: >"$local_file" # nothing of an earlier boot's (curl truncates it too)
		fi
		# Empty: curl appends a later file's headers to what is there; no account yet.
		: >"$WORK/curl.headers.$i"
		: >"$WORK/curl.headers.$i.w"
		set -- "$@" "$loc" "$local_file" "$WORK/curl.headers.$i"
		i=$((i + 1))
	done
	# A file alone: the plain way (no FIFO, no reader).
	[ $# -gt 3 ] || return 1
	if [ ! -p "$fifo" ]; then
		rm -f "$fifo"
		mkfifo "$fifo" 2>/dev/null || return 1
	fi
	url_masked_set "$1"
	debug "one curl for $(($# / 3)) files, from $MASKED on"
	# The first file's watch ticks from here: its fork is done before curl starts.
	transfer_ticker_start
	url_curl "$fifo" "$out" "$@"
	URL_BATCH_PID=$! URL_BATCH_MARK=$URL_CURL_START
	URL_BATCH_NEXT=$URL_PLAN_AT URL_BATCH_LAST=$((i - 1))
	# Opened once curl has its end: a FIFO's open waits for the other side.
	command exec 3<"$fifo" || url_batch_stop
	[ -n "$URL_BATCH_PID" ]
}

# url_waiter LOG [ACCOUNT]: (in the background, reading the batch's FIFO) copies curl's
# lines to LOG up to the next file's -w line, which also goes to ACCOUNT (transfer.sh's
# HEADERS.w) after the time it came, and exits with that file's exit status; 125 when
# curl ended before it.
url_waiter() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$1"
		case $line in
		"fetch-url: "*)
			uptime_cs_set
			[ -z "${2-}" ] || printf '%s %s\n' "$UPTIME_CS" "$line" >"$2"
			line=${line#fetch-url: }
			line=${line%% *}
			is_uint "$line" && exit "$line"
			exit 125
			;;
		esac
	done
	exit 125
}

# url_batch_take LOCAL OFFSET NAME LOG: follows the running curl's next file (LOCAL from
# OFFSET on) to its end with transfer_watch, its messages in LOG; its status as
# transfer_watch's. The process is over after its last file or a failure.
url_batch_take() {
	local i=$URL_BATCH_NEXT status account='' loc
	: >"$4"
	# HTTP's account replaces reading the headers at the end (FTP's SIZE is only in them).
	eval "loc=\$URL_PLAN_LOC_$i"
	url_scheme_set "$loc"
	[ "$SCHEME" = ftp ] || account="$WORK/curl.headers.$i.w"
	url_waiter "$4" "$account" <&3 &
	# A file with more after it hands its ticker on (paused) to the next one's watch.
	[ "$i" = "$URL_BATCH_LAST" ] || TRANSFER_TICKER_KEEP=1
	transfer_watch $! "$1" "$2" "$3" "$WORK/curl.headers.$i" "$URL_BATCH_MARK" "$URL_BATCH_PID"
	status=$?
	URL_BATCH_MARK=$TRANSFER_FINISH
	URL_BATCH_NEXT=$((i + 1))
	if [ "$status" = 125 ]; then
		# curl ended without a word on this file: its own status says why.
		wait "$URL_BATCH_PID"
		status=$?
	fi
	if [ "$status" != 0 ] || [ "$i" = "$URL_BATCH_LAST" ]; then
		url_batch_stop
	fi
	return "$status"
}

url_batch_stop() {
	local i local_file part
	# A ticker started, or paused after a file, for a watch that never came.
	if [ -n "${TRANSFER_TICKER-}" ]; then
		transfer_ticker_stop "$TRANSFER_TICKER"
		TRANSFER_TICKER=
	fi
	[ -n "$URL_BATCH_PID" ] || return 0
	kill "$URL_BATCH_PID" 2>/dev/null
	wait "$URL_BATCH_PID" 2>/dev/null
	URL_BATCH_PID=''
	# What it wrote that no reader took: gone, not read by the next process's readers (a
	# ticker, or a sleep it started under dash, may hold the FIFO open a moment longer, and the
	# pipe with it).
	while IFS= read -r _; do :; done 2>/dev/null <&3
	exec 3<&-
	# The files it began and nobody took: nothing left behind, as after a failure.
	i=$URL_BATCH_NEXT
	while [ "$i" -le "$URL_BATCH_LAST" ]; do
		eval "local_file=\$URL_PLAN_LOCAL_$i part=\$URL_PLAN_APPEND_$i"
		if [ "$part" = 1 ]; then
			truncate -s "$URL_BATCH_OFFSET" "$local_file"
		else
			rm -f "$local_file"
		fi
		i=$((i + 1))
	done
}

fetch_via_url() {
	local url=$1 local_file=$2 try=0 offset=0 status log="$WORK/curl.log" headers masked
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
		url_insecure_warn "$url"
		if url_batch_next "$url" "$local_file" || url_batch_start "$url" "$local_file" "$offset"; then
			headers="$WORK/curl.headers.$URL_BATCH_NEXT"
			url_batch_take "$local_file" "$offset" "$masked" "$log"
			status=$?
		else
			headers="$WORK/curl.headers"
			: >"$headers"
			transfer_ticker_start # its fork before curl's start, not in the transfer's time
			if [ "${FETCH_APPEND:-0}" = 1 ]; then
				url_curl "$log" "$local_file" "$url" - "$headers"
			else
				url_curl "$log" '' "$url" "$local_file" "$headers"
			fi
			transfer_watch $! "$local_file" "$offset" "$masked" "$headers" "$URL_CURL_START"
			status=$?
		fi
		if [ "$status" = 0 ]; then
			url_plan_find "$url" "$local_file" && URL_PLAN_AT=$((URL_PLAN_AT + 1))
			FETCH_GOT=$TRANSFER_SIZE
			return 0
		fi
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
