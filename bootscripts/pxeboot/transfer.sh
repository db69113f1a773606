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
# Exports: memory_check BYTES           false when BYTES cannot fit; TRANSFER_ERROR says why;
#          transfer_watch PID FILE OFFSET NAME [HEADERS]
#                                       waits for the transfer PID writing FILE beyond
#                                       OFFSET; HEADERS is curl -D's file, read for the
#                                       size (Content-Length, FTP 213) and the redirects;
#                                       returns the transfer's status, or 124 when it was
#                                       stopped (TRANSFER_ERROR says why);
#          transfer_done BYTES          counts a finished download for memory_check.
# Reads:   PXE_PROGRESS_MIN_MB PXE_PROGRESS_STEP_MB PXE_FETCH_TIMEOUT PXE_MEMORY_RESERVE_MB
#          PXE_HTTP_REDIRECTS, PXE_MEMINFO (default /proc/meminfo: a test points it at a file).

TRANSFER_HELD=0

# uptime_cs: the time since boot in 1/100 s (/proc/uptime), for rates below a second.
uptime_cs() {
	local up
	read -r up _ <"${PXE_UPTIME:-/proc/uptime}" || up=0.00
	up=${up%%.*}${up#*.} # Linux prints two decimals
	up=${up#"${up%%[!0]*}"}
	echo "${up:-0}"
}

# mb BYTES: BYTES in MiB with one decimal.
mb() { echo "$(($1 / 1048576)).$(($1 % 1048576 * 10 / 1048576))"; }

memory_available_kb() {
	awk '$1 == "MemAvailable:" { print $2; found = 1 } END { if (!found) exit 1 }' \
		"${PXE_MEMINFO:-/proc/meminfo}" 2>/dev/null
}

memory_check() {
	local avail need
	avail=$(memory_available_kb) || return 0 # no MemAvailable (before Linux 3.14): no check
	need=$(((2 * $1 + TRANSFER_HELD) / 1024 + ${PXE_MEMORY_RESERVE_MB:-32} * 1024))
	[ "$need" -gt "$avail" ] || return 0
	TRANSFER_ERROR="needs about $(mb $((need * 1024))) MB of memory (the file and kexec's copy of it$(
		[ "$TRANSFER_HELD" -gt 0 ] && printf ', kexec'"'"'s copy of the %s MB fetched before' "$(mb "$TRANSFER_HELD")"
	), ${PXE_MEMORY_RESERVE_MB:-32} MB to spare) but only $(mb $((avail * 1024))) MB is available (MemAvailable)"
	return 1
}

transfer_done() { TRANSFER_HELD=$((TRANSFER_HELD + $1)); }

# headers_facts LOG: "STATUS LENGTH REDIRECTS" from the headers curl -D wrote so far: the
# last HTTP status, its Content-Length (or the FTP SIZE answer, 213), and how many
# Location headers came (one per redirect followed). Empty fields are "-".
headers_facts() {
	awk '{ line = tolower($0) }
		line ~ /^ *http\/[0-9.]+ [0-9][0-9][0-9]/ { status = $2; length_ = "" }
		line ~ /^ *content-length:/ { length_ = $2 + 0 }
		line ~ /^ *location:/ { redirects++ }
		/^213 [0-9]+/ { status = 200; length_ = $2 + 0 }
		END { printf "%s %s %d\n", status == "" ? "-" : status,
			length_ == "" ? "-" : length_, redirects }' "$1" 2>/dev/null
}

# progress NAME BYTES TOTAL START: one line of progress (TOTAL "-" when unknown).
progress() {
	local elapsed rate
	elapsed=$(($(uptime_cs) - $4))
	[ "$elapsed" -gt 0 ] || elapsed=1
	rate=$(($2 * 100 / elapsed))
	if [ "$3" = - ]; then
		say "$1: $(mb "$2") MB, $(mb "$rate") MB/s"
	else
		say "$1: $(mb "$2") of $(mb "$3") MB ($(($2 * 100 / $3))%), $(mb "$rate") MB/s"
	fi
}

transfer_stop() {
	TRANSFER_ERROR=$2
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 124
}

transfer_watch() {
	local pid=$1 file=$2 offset=$3 name=$4 log=${5-} start now size=0 last=-1 quiet_since
	local total=- facts status length redirects next=0 step nap=0.02 min step_mb sized=1
	min=$((${PXE_PROGRESS_MIN_MB:-4} * 1048576))
	step_mb=$((${PXE_PROGRESS_STEP_MB:-10} * 1048576))
	start=$(uptime_cs)
	quiet_since=$start
	# With a header log the size is not known to be unknown before the headers came.
	[ -n "$log" ] && sized=0
	TRANSFER_ERROR=
	while kill -0 "$pid" 2>/dev/null; do
		sleep "$nap"
		# Short transfers (config files, misses) end within the first naps.
		case $nap in 0.02) nap=0.1 ;; 0.1) nap=0.5 ;; esac
		now=$(uptime_cs)
		size=$(stat -c %s "$file" 2>/dev/null) || size=$offset
		size=$((size - offset))
		if [ "$sized" = 0 ]; then
			facts=$(headers_facts "$log")
			redirects=${facts##* }
			status=${facts%% *}
			length=${facts#* }
			length=${length%% *}
			if [ "$redirects" -gt "${PXE_HTTP_REDIRECTS:-5}" ]; then
				transfer_stop "$pid" "after more than ${PXE_HTTP_REDIRECTS:-5} redirects"
				return 124
			fi
			case $status in
			2??)
				sized=1
				if [ "$length" != - ]; then
					total=$length
					if ! memory_check "$total"; then
						transfer_stop "$pid" "($(mb "$total") MB): $TRANSFER_ERROR"
						return 124
					fi
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
			return 124
		fi
		if [ "$total" = - ] && [ "$sized" = 1 ] && [ "$size" -ge "$min" ]; then
			# Size unknown (TFTP): a line every step, and the memory check as it grows.
			if [ "$size" -ge "$next" ]; then
				[ "$next" -gt 0 ] && progress "$name" "$size" - "$start"
				next=$((size - size % step_mb + step_mb))
			fi
			if ! memory_check "$size"; then
				transfer_stop "$pid" "(stopped at $(mb "$size") MB): $TRANSFER_ERROR"
				return 124
			fi
		elif [ "$next" -gt 0 ] && [ "$size" -ge "$next" ] && [ "$size" -lt "$total" ]; then
			progress "$name" "$size" "$total" "$start"
			next=$((size - size % step + step))
		fi
	done
	wait "$pid"
	status=$?
	size=$(stat -c %s "$file" 2>/dev/null) || size=$offset
	size=$((size - offset))
	[ "$status" = 0 ] && [ "$size" -ge "$min" ] && progress "$name" "$size" "$total" "$start"
	return "$status"
}
