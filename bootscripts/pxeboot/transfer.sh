# shellcheck shell=dash
# transfer.sh: what every download gets, whatever fetches it: progress lines on the
# console, a stall timeout, and a memory check, so that an installer-sized initrd is
# refused with a message instead of the OOM killer ending the boot.
#
# A transfer runs in the background (curl or busybox tftp writing a file) and
# transfer_watch follows it: it polls the file's size, prints a progress line at every
# tenth of a known size (else every PXE_PROGRESS_STEP_MB) once a transfer passes
# PXE_PROGRESS_MIN_MB, and stops the transfer when no byte came for PXE_FETCH_TIMEOUT s.
#
# Memory: a kernel or initrd is held twice before kexec -e: once in the tmpfs it was
# downloaded to, once in the segments kexec_load (or kexec_file_load) copies into the
# kernel (kexec-tools' s390 loader maps the initrd file, so its own read costs no third
# copy). So a file of SIZE bytes fits when 2 x SIZE, plus what was fetched before it
# (its kexec copy is still to come), plus PXE_MEMORY_RESERVE_MB stays within MemAvailable.
#
# Sizes a server announces are text, possibly of any length (Content-Length
# 99999999999999999999): bytes_of reads one as a number capped at BYTES_CAP (1 PiB),
# so that 2 x SIZE and the sums below stay far from the shell's 64-bit limit; every
# size check goes through it. An announced size can lie: the memory check also runs as
# the file grows, and a file that grows past the size announced is stopped.
#
# Exports: bytes_of TEXT                BYTES=TEXT capped at BYTES_CAP; false when TEXT
#                                       is not a decimal number;
#          memory_check BYTES           false when BYTES cannot fit; TRANSFER_ERROR says why;
#          transfer_watch PID FILE OFFSET NAME [HEADERS [START WRITER]]
#                                       waits for the transfer PID writing FILE beyond
#                                       OFFSET; HEADERS is curl -D's file, read for the
#                                       size (Content-Length, FTP 213) and the redirects;
#                                       returns the transfer's status, or 124 when it was
#                                       stopped (TRANSFER_ERROR says why); TRANSFER_FINISH
#                                       is when it ended (1/100 s since boot),
#                                       TRANSFER_SIZE what arrived (0: bytes). One curl
#                                       for several files: PID ends with the file (a
#                                       reader of curl's -w lines), WRITER is curl (what
#                                       a stop ends), START when the file's turn came;
#                                       a ticker already started (transfer_ticker_start,
#                                       before the transfer, so that its fork is no part
#                                       of the transfer's time) or paused is taken over;
#                                       with TRANSFER_TICKER_KEEP=1 (for this watch) a
#                                       transfer that ended well leaves its ticker paused
#                                       for the next (transfer_ticker_pause);
#          transfer_ticker_start        starts transfer_watch's ticker for this shell;
#          transfer_prepare [FIFO]...   makes the ticker's FIFO in WORK (its naps then
#                                       start no process), and the FIFOs named, ahead;
#          transfer_ticker_stop PID     ends a ticker (one started or paused for a watch
#                                       that never came);
#          transfer_done BYTES          counts a finished download for memory_check;
#          headers_facts LOG, announced_facts LOG  what the server announced (below);
#          curl_account_set LOG         what curl said of the ended transfer (below).
# HEADERS.w, once it holds a line, is curl's own account of the ended transfer (its -w
# line after the time it was read, 1/100 s since boot: "END fetch-url: EXIT HTTP-CODE
# SIZE REDIRECTS [CONTENT-LENGTH]", written there by fetch-url.sh's reader as the line
# arrives, which also makes sure no older one is left): the transfer's time ends at END
# (the file was complete then; this shell may notice it a little later, when the CPU is
# busy with curl's next file), and the checks after the
# transfer take status, size, redirects and length from it instead of reading HEADERS
# with awk and FILE with stat (curl's Content-Length is the final answer's first one).
# A transfer with HEADERS must have its status and headers complete within
# PXE_FETCH_TIMEOUT (headers that trickle are stopped), and what arrived must be the
# Content-Length (or FTP SIZE) announced, whatever the client made of it.
# Reads:   PXE_PROGRESS_MIN_MB PXE_PROGRESS_STEP_MB PXE_FETCH_TIMEOUT PXE_MEMORY_RESERVE_MB
#          PXE_HTTP_REDIRECTS, PXE_MEMINFO (default /proc/meminfo: a test points it at a file),
#          WORK (the ticker's FIFO, when there).

TRANSFER_HELD=0
BYTES_CAP=1125899906842624 # 2^50: 16 digits; 2^63 is 19

bytes_of() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	BYTES=${1#"${1%%[!0]*}"}
	if [ "${#BYTES}" -gt 16 ] || { [ "${#BYTES}" = 16 ] && [ "$BYTES" -gt "$BYTES_CAP" ]; }; then
		BYTES=$BYTES_CAP
	fi
	BYTES=${BYTES:-0}
}

# uptime_cs: the time since boot in 1/100 s (/proc/uptime), for rates below a second;
# uptime_cs_set: the same into UPTIME_CS (no subshell).
uptime_cs() {
	uptime_cs_set
	echo "$UPTIME_CS"
}

uptime_cs_set() {
	local up
	read -r up _ <"${PXE_UPTIME:-/proc/uptime}" || up=0.00
	up=${up%%.*}${up#*.} # Linux prints two decimals
	up=${up#"${up%%[!0]*}"}
	UPTIME_CS=${up:-0}
}

# mb_set VAR BYTES: VAR=BYTES in MiB with one decimal, in this shell (progress lines
# start no subshell); mb BYTES prints it.
mb_set() { eval "$1=$(($2 / 1048576)).$(($2 % 1048576 * 10 / 1048576))"; }
mb() { mb_set MB "$1" && echo "$MB"; }

# memory_available_set: MemAvailable (kB) in MEM_AVAILABLE, read by the shell (it is the
# third line: no awk per look at a growing file); false when there is none.
memory_available_set() {
	local key value
	MEM_AVAILABLE=
	[ -r "${PXE_MEMINFO:-/proc/meminfo}" ] || return 1
	while read -r key value _; do
		case $key in
		MemAvailable:)
			MEM_AVAILABLE=$value
			return 0
			;;
		esac
	done <"${PXE_MEMINFO:-/proc/meminfo}"
	return 1
}

memory_check() {
	local avail need
	if ! bytes_of "$1"; then
		TRANSFER_ERROR="the size '$1' is not a number of bytes"
		return 1
	fi
	memory_available_set || return 0 # no MemAvailable (before Linux 3.14): no check
	bytes_of "$MEM_AVAILABLE" || return 0
	avail=$BYTES
	bytes_of "$1"
	need=$(((2 * BYTES + TRANSFER_HELD) / 1024 + ${PXE_MEMORY_RESERVE_MB:-32} * 1024))
	[ "$need" -gt "$avail" ] || return 0
	TRANSFER_ERROR="needs about $(mb $((need * 1024))) MB of memory (the file and kexec's copy of it$(
		[ "$TRANSFER_HELD" -gt 0 ] && printf ', kexec'"'"'s copy of the %s MB fetched before' "$(mb "$TRANSFER_HELD")"
	), ${PXE_MEMORY_RESERVE_MB:-32} MB to spare) but only $(mb $((avail * 1024))) MB is available (MemAvailable)"
	return 1
}

transfer_done() {
	bytes_of "$1" || BYTES=0
	TRANSFER_HELD=$((TRANSFER_HELD + BYTES))
	[ "$TRANSFER_HELD" -le "$BYTES_CAP" ] || TRANSFER_HELD=$BYTES_CAP
}

# headers_facts LOG: "STATUS LENGTH REDIRECTS DONE" from the headers curl -D wrote so far:
# the last HTTP status, its (first) Content-Length (or the FTP SIZE answer, 213), how many
# Location headers came (one per redirect followed), and 1 when that last answer's
# headers are complete (the blank line after them; FTP's 213). Empty fields are "-".
# The length is the server's text (digits of any length, never awk's 1e+20), or "?". The
# first, as curl's -w account has it: a second Content-Length that says otherwise (which
# curl goes by) makes what arrived differ from what was announced, a failed transfer.
headers_facts() {
	awk '{ sub(/\r$/, ""); line = tolower($0) }
		line ~ /^ *http\/[0-9.]+ [0-9][0-9][0-9]/ { status = $2; length_ = ""; done = 0; next }
		line ~ /^ *content-length:/ && length_ == "" { length_ = ($2 ~ /^[0-9]+$/) ? $2 : "?" }
		line ~ /^ *location:/ { redirects++ }
		line == "" && status != "" { done = 1 }
		/^213 [0-9]+/ { status = 200; length_ = ($2 ~ /^[0-9]+$/) ? $2 : "?"; done = 1 }
		END { printf "%s %s %d %d\n", status == "" ? "-" : status,
			length_ == "" ? "-" : length_, redirects, done }' "$1" 2>/dev/null
}

# curl_account_set LOG: true when LOG.w holds curl's -w account of the ended transfer:
# STATUS, LENGTH ("-" none, "?" not digits), REDIRECTS, HEADERS_DONE=1 as announced_facts
# sets them, ARRIVED the bytes that came (no process: read by the shell), ACCOUNT_END
# when the account was read.
curl_account_set() {
	{ read -r ACCOUNT_END _ _ STATUS ARRIVED REDIRECTS LENGTH <"$1.w"; } 2>/dev/null || return 1
	is_uint "$ACCOUNT_END" && is_uint "$ARRIVED" && is_uint "$REDIRECTS" || return 1
	case $LENGTH in
	'') LENGTH=- ;;
	*[!0-9]*) LENGTH='?' ;;
	esac
	HEADERS_DONE=1
}

# announced_facts LOG: STATUS, LENGTH, REDIRECTS and HEADERS_DONE from headers_facts.
announced_facts() {
	local facts
	# Nothing yet (curl is still starting): no awk for it.
	if [ ! -s "$1" ]; then
		STATUS=- LENGTH=- REDIRECTS=0 HEADERS_DONE=0
		return 0
	fi
	facts=$(headers_facts "$1")
	# shellcheck disable=SC2086 # its four words; globbing is off
	set -- $facts
	STATUS=${1:--} LENGTH=${2:--} REDIRECTS=${3:-0} HEADERS_DONE=${4:-0}
}

# progress NAME BYTES TOTAL START [END]: one line of progress (TOTAL "-" when unknown);
# the rate over START..END (in 1/100 s since boot), END now when not given.
progress() {
	local elapsed rate got all speed
	uptime_cs_set
	elapsed=$((${5:-$UPTIME_CS} - $4))
	[ "$elapsed" -gt 0 ] || elapsed=1
	rate=$(($2 * 100 / elapsed))
	mb_set got "$2"
	mb_set speed "$rate"
	if [ "$3" = - ]; then
		say "$1: $got MB, $speed MB/s"
	else
		mb_set all "$3"
		say "$1: $got of $all MB ($(($2 * 100 / $3))%), $speed MB/s"
	fi
}

# transfer_stop PID REASON: ends the transfer (transfer_watch's WRITER too, if any).
transfer_stop() {
	TRANSFER_ERROR=$2
	kill "$1" ${writer:+"$writer"} 2>/dev/null
	wait "$1" 2>/dev/null
	return 124
}

# transfer_ticker PID NAP...: sends PID a USR1 after each NAP (the last one repeated)
# until PID is gone: the beat of transfer_watch's checks.
transfer_ticker() {
	local target=$1 nap
	shift
	while :; do
		nap=$1
		[ $# -gt 1 ] && shift
		transfer_nap "$nap" && kill -USR1 "$target" 2>/dev/null || return 0
	done
}

# transfer_nap SECONDS: the ticker's pause, fractions too: busybox ash's `read -t` on
# the ticker's FIFO (transfer_prepare), which nobody writes to and which is opened for
# reading and writing (the open does not block), so no process; `sleep` (an exec, ~10-30
# ms under TCG, and one per nap) where there is no FIFO or the shell's read has no -t
# (dash: status 2).
transfer_nap() {
	if [ -p "${WORK:+$WORK/ticker.fifo}" ]; then
		# shellcheck disable=SC3045 # busybox ash's read -t; dash says status 2
		read -r -t "$1" _ 2>/dev/null <>"$WORK/ticker.fifo"
		[ $? = 2 ] || return 0
	fi
	sleep "$1"
}

# transfer_prepare [FIFO]...: the ticker's FIFO ($WORK/ticker.fifo) and the other FIFOs
# named, those not there yet, made ahead by one mkfifo (pxeboot.sh, while DHCP runs);
# without it the ticker sleeps as before.
transfer_prepare() {
	local fifo count=$#
	for fifo in "$WORK/ticker.fifo" "$@"; do
		[ -p "$fifo" ] || set -- "$@" "$fifo"
	done
	shift "$count"
	[ $# = 0 ] || mkfifo "$@" 2>/dev/null || :
}

# shell_pid_set: this shell's own PID in SHELL_PID, also in a subshell (where $$ is the
# parent's): where the /proc/self link leads (cd -P, and back: no process, and no
# byte-by-byte read of /proc/self/stat, which costs ~10 ms under TCG).
shell_pid_set() {
	local here
	SHELL_PID=$$
	if here=$PWD && cd -P /proc/self 2>/dev/null; then
		is_uint "${PWD##*/}" && SHELL_PID=${PWD##*/}
		cd "$here" || cd /
	fi
}

# transfer_ticker_start: the ticker of the next transfer_watch in this shell, started
# now (TRANSFER_TICKER; its USR1 is caught from now on).
transfer_ticker_start() {
	shell_pid_set
	trap : USR1
	transfer_ticker "$SHELL_PID" 0.5 &
	TRANSFER_TICKER=$!
}

# transfer_ticker_stop PID: the ticker PID ended and reaped; its USR1 no longer caught.
transfer_ticker_stop() {
	kill "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null # a paused one ends only once continued
	wait "$1" 2>/dev/null
	trap - USR1
}

# transfer_ticker_pause PID: the ticker PID stopped (SIGSTOP) and kept in TRANSFER_TICKER
# for the next transfer_watch of this shell, which continues it: one curl's next file
# is watched without a ticker's fork (and this one's kill and reaping). Its USR1 is
# ignored meanwhile: one sent before it stopped interrupts nothing.
transfer_ticker_pause() {
	kill -STOP "$1" 2>/dev/null
	trap '' USR1
	TRANSFER_TICKER=$1
}

# The transfer's end wakes transfer_watch at once: it waits for the transfer, and a
# ticker's USR1 interrupts that wait (POSIX: a trapped signal ends `wait`) for the checks
# of transfer_check every 0.5 s (no look at 0.1 s: curl has not even started by then
# under TCG, and each look costs the transfer CPU). A short transfer (a config file, a
# miss) costs no poll at all, a long one is not left waiting for the next poll to notice
# its end.
transfer_watch() {
	local pid=$1 file=$2 offset=$3 name=$4 log=${5-} start now size=0 last=-1 quiet_since
	local writer=${7-}
	local total=- status length next=0 step min step_mb sized=1 ticker again finish accounted='' keep
	min=$((${PXE_PROGRESS_MIN_MB:-4} * 1048576))
	step_mb=$((${PXE_PROGRESS_STEP_MB:-10} * 1048576))
	uptime_cs_set
	start=${6:-$UPTIME_CS}
	quiet_since=$start
	# With a header log the size is not known to be unknown before the headers came.
	[ -n "$log" ] && sized=0
	TRANSFER_ERROR=
	keep=${TRANSFER_TICKER_KEEP-}
	TRANSFER_TICKER_KEEP=
	if [ -n "${TRANSFER_TICKER-}" ]; then
		# Started ahead, or paused after the file before: it beats on for this one.
		trap : USR1
		kill -CONT "$TRANSFER_TICKER" 2>/dev/null
	else
		transfer_ticker_start
	fi
	ticker=$TRANSFER_TICKER
	TRANSFER_TICKER=
	while :; do
		wait "$pid"
		status=$?
		# Above 128: the ticker's signal, or the transfer killed by one.
		if [ "$status" -le 128 ] || ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		transfer_check || break
	done
	# The transfer's own time ends here, as a bare client's would: the checks below
	# are this script's work, not the wire's, and stay out of the rate.
	uptime_cs_set
	finish=$UPTIME_CS
	# A file of one curl for several: complete when its account was read (once: the
	# last look below takes it as read here).
	if [ -n "$log" ] && curl_account_set "$log"; then
		accounted=1
		if [ "$ACCOUNT_END" -le "$finish" ] && [ "$ACCOUNT_END" -ge "$start" ]; then
			finish=$ACCOUNT_END
		fi
	fi
	TRANSFER_FINISH=$finish
	if [ "$status" = 0 ] && [ "$keep" = 1 ]; then
		transfer_ticker_pause "$ticker"
	else
		transfer_ticker_stop "$ticker"
	fi
	if [ "$status" = 124 ] && [ -n "$TRANSFER_ERROR" ]; then
		wait "$pid" 2>/dev/null # stopped: reap it, should the signal have cut that short
		return 124
	fi
	if [ "$status" -gt 128 ]; then
		# Ended while the ticker's signal interrupted the wait: its own status.
		wait "$pid"
		again=$?
		[ "$again" = 127 ] || status=$again
	fi
	# A failed transfer (a miss in the config search) needs no size: no stat for it.
	[ "$status" = 0 ] || return "$status"
	if [ -n "$log" ]; then
		# One more look: the headers' redirects and size when it was done before the
		# first, and the size that arrived (transfer_check sets size).
		transfer_check || return 124
		# The final answer's headers were read by a look (sized): its length is known.
		if [ "$sized" = 1 ]; then
			LENGTH=${length:--}
		else
			announced_facts "$log"
		fi
	else
		size=$(stat -c %s "$file" 2>/dev/null) || size=$offset
		size=$((size - offset))
	fi
	# What arrived against what was announced, whatever the client made of it.
	if [ -n "$log" ]; then
		if [ "$LENGTH" != - ] && { ! bytes_of "$LENGTH" || [ "$BYTES" != "$size" ]; }; then
			TRANSFER_ERROR="the server announced $LENGTH bytes, but $size arrived"
			return 124
		fi
	fi
	TRANSFER_SIZE=$size
	[ "$status" = 0 ] && [ "$size" -ge "$min" ] && progress "$name" "$size" "$total" "$start" "$finish"
	return "$status"
}

# transfer_check: one look at the running transfer, in transfer_watch's variables:
# headers, sizes, the memory check, the stall timeout, progress. False (status 124,
# the transfer stopped, TRANSFER_ERROR set) when the transfer has to end.
transfer_check() {
	local fits=''
	uptime_cs_set
	now=$UPTIME_CS
	if [ -n "$log" ] && { [ "$accounted" = 1 ] || curl_account_set "$log"; }; then
		# Ended, and curl said what came: no stat, no awk.
		size=$ARRIVED
	else
		size=$(stat -c %s "$file" 2>/dev/null) || size=$offset
		size=$((size - offset))
		[ "$sized" = 1 ] || announced_facts "$log"
	fi
	if [ "$sized" = 0 ]; then
		length=$LENGTH
		if [ "$REDIRECTS" -gt "${PXE_HTTP_REDIRECTS:-5}" ]; then
			transfer_stop "$pid" "after more than ${PXE_HTTP_REDIRECTS:-5} redirects"
			status=124
			return 1
		fi
		# The answer's status and headers must be complete in time, whatever trickles.
		if [ "$HEADERS_DONE" = 0 ] && [ $((now - start)) -ge $((${PXE_FETCH_TIMEOUT:-30} * 100)) ]; then
			transfer_stop "$pid" "no complete answer (status and headers) within ${PXE_FETCH_TIMEOUT:-30} s"
			status=124
			return 1
		fi
		case $STATUS:$HEADERS_DONE in
		2??:1)
			sized=1
			if [ "$length" != - ]; then
				if ! bytes_of "$length"; then
					transfer_stop "$pid" "the server announced a size that is not a number"
					status=124
					return 1
				fi
				total=$BYTES
				if ! memory_check "$total"; then
					[ "$total" = "$BYTES_CAP" ] && length="$length bytes" || length="$(mb "$total") MB"
					transfer_stop "$pid" "($length): $TRANSFER_ERROR"
					status=124
					return 1
				fi
				fits=$total
				[ "$total" -ge "$min" ] && step=$(((total + 9) / 10)) && next=$step
			fi
			;;
		esac
	fi
	if [ "$size" != "$last" ]; then
		last=$size
		quiet_since=$now
	elif [ $((now - quiet_since)) -ge $((${PXE_FETCH_TIMEOUT:-30} * 100)) ]; then
		transfer_stop "$pid" "no data for ${PXE_FETCH_TIMEOUT:-30} s"
		status=124
		return 1
	fi
	if [ "$total" != - ] && [ "$size" -gt "$total" ]; then
		transfer_stop "$pid" "the server sent more than the $total bytes it announced"
		status=124
		return 1
	fi
	# The memory check as it grows, announced size or not: an announced size can lie.
	# Not asked twice in one look: a size within the announced one that just fitted fits.
	if [ "$sized" = 1 ] && [ "$size" -ge "$min" ] && { [ -z "$fits" ] || [ "$size" -gt "$fits" ]; } &&
		! memory_check "$size"; then
		transfer_stop "$pid" "(stopped at $(mb "$size") MB): $TRANSFER_ERROR"
		status=124
		return 1
	fi
	if [ "$total" = - ] && [ "$sized" = 1 ] && [ "$size" -ge "$min" ]; then
		# Size unknown (TFTP): a line every step.
		if [ "$size" -ge "$next" ]; then
			[ "$next" -gt 0 ] && progress "$name" "$size" - "$start"
			next=$((size - size % step_mb + step_mb))
		fi
	elif [ "$next" -gt 0 ] && [ "$size" -ge "$next" ] && [ "$size" -lt "$total" ]; then
		progress "$name" "$size" "$total" "$start"
		next=$((size - size % step + step))
	fi
	return 0
}
