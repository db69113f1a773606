# shellcheck shell=dash
# boot.sh: the chosen entry's files, and the hand-over to the kernel.
#
# Exports: boot_fetch    fetches ENTRY_KERNEL into $WORK/kernel, checks it is an s390
#                        kernel image whose command line area holds APPEND_LINE, then
#                        the INITRDS, in order, into one $WORK/initrd (each but the last
#                        zero-padded to 4 KiB, as syslinux does; an empty one is
#                        refused), each written straight into it: an installer's initrd
#                        of hundreds of MB is never held twice; each file's signature
#                        is checked as it arrives (verify.sh); the files by URL come
#                        from one curl where they can (boot_plan, fetch-url.sh), while
#                        the ones before them are checked; sets KERNEL_NAME,
#                        INITRD_NAMES (one per line, as shown), INITRD_FILE (empty
#                        without initrds) and KERNEL_CMDLINE_MAX;
#          kernel_check FILE NAME [SIZE]  dies unless FILE (of SIZE bytes, when known)
#                        is an s390 kernel image (the marks
#                        composer/image/s390.py checks: 0x08..0x17 and S390EP at
#                        0x10008); sets KERNEL_CMDLINE_MAX from the field at 0x10430;
#          boot_report   prints the dry run's result: config= label= kernel= initrd=...
#                        append= (stdout holds nothing else);
#          boot_report_entries  (dry run, PXE_DRY_ENTRIES=1: `compose check`) prints
#                        one entry= line per LABEL of the configuration read, before the
#                        choice: its name, type, kernel, initrds (comma-separated) and
#                        command line as this script resolves them, and the APPEND as
#                        written (the label's, else the global one), separated by the
#                        ASCII unit separator;
#          boot_kexec    loads the files with APPEND_LINE, then kexec -e; dies if
#                        either fails. PXE_KEXEC says how: "file" kexec -s
#                        (kexec_file_load, which secure boot / lockdown require), "load"
#                        kexec -l (kexec_load), "auto" kexec -s and, where the kernel has
#                        no kexec_file_load (Debian's s390x 6.1: KEXEC_FILE unset), -l;
#                        with PXE_KEXEC_FILE=no (the build read the kernel's config)
#                        "auto" goes to -l at once.
# Reads:   ENTRY_* APPEND_LINE INITRDS (choose.sh), CONFIG_NAME, WORK, PXE_KEXEC,
#          PXE_DRY_ENTRIES, PXE_KERNEL_CHECK (0: no kernel check, for tests serving
#          stand-in kernels), PXE_KEXEC_FILE (yes, no, or empty: whether the image's
#          kernel has kexec_file_load); verify_file verify_plan (verify.sh), url_plan
#          url_plan_reset url_batch_stop (fetch-url.sh). boot_fetch runs in a subshell
#          of its own (console.sh): it sets that subshell's EXIT trap.
#
# The command line limit is the booted kernel's own (its max_command_line_size at
# 0x10430, big-endian u64; 0 on kernels before 5.16, which means 896), read from the
# downloaded file: the image's kernel is not the one being kexec'd. It counts the
# terminating NUL, so a line of at most MAX - 1 bytes fits. kexec takes the line as one
# argument, and Linux caps one argument at 128 KiB (MAX_ARG_STRLEN): a longer limit is
# taken as that.

KERNEL_ARG_MAX=131056 # 128 KiB less "--command-line=" and its NUL

# bytes_at FILE OFFSET COUNT: the COUNT bytes at OFFSET as lower-case hex, no blanks.
bytes_at() {
	bytes_at_set "$@" && echo "$HEX_BYTES"
}

# bytes_at_set FILE OFFSET COUNT: bytes_at's answer in HEX_BYTES (one od, no subshell
# around it).
bytes_at_set() {
	local hex IFS
	hex=$(od -An -v -tx1 -j "$2" -N "$3" "$1" 2>/dev/null) || return 1
	# shellcheck disable=SC2086 # the words of od's output, joined
	set -- $hex
	IFS=
	HEX_BYTES="$*"
}

# kernel_check FILE NAME [SIZE]: two od processes, the second for S390EP at 0x10008 and the
# command line size at 0x10430 at once (1072 bytes: under TCG a process costs more than
# the shell's picking of 14 bytes out of them); the file's size only for a message.
kernel_check() {
	local file=$1 name=$2 known=${3-} size head mark='' raw='' words
	KERNEL_CMDLINE_MAX=$KERNEL_ARG_MAX
	[ "${PXE_KERNEL_CHECK:-1}" = 0 ] && return 0
	[ -r "$file" ] || die "cannot read $file"
	[ -s "$file" ] || die "kernel '$name' is empty (0 bytes): the server sent no kernel"
	bytes_at_set "$file" 8 16 || HEX_BYTES=
	head=$HEX_BYTES
	words=$(od -An -v -tx1 -j 65544 -N 1072 "$file" 2>/dev/null) || words=
	# shellcheck disable=SC2086 # the words of od's output; globbing is off
	set -- $words
	if [ $# -ge 6 ]; then
		mark=$1$2$3$4$5$6
		if [ $# = 1072 ]; then
			shift 1064
			raw=$1$2$3$4$5$6$7$8
		fi
	fi
	if [ "$head" != 02000018600000500200006860000050 ] || [ "$mark" != 533339304550 ]; then
		size=${known:-$(stat -c %s "$file")} || size='?'
		case $(bytes_at "$file" 0 1) in
		3c) die "kernel '$name' is not an s390 kernel image: it starts with '<', like an HTML page (an error page served as the file?)" ;;
		esac
		die "kernel '$name' is not an s390 kernel image ($size bytes, without the s390 boot marks at 0x08 and S390EP at 0x10008)"
	fi
	case $raw in
	????????????????) ;;
	*)
		size=${known:-$(stat -c %s "$file")} || size='?'
		die "kernel '$name' is cut short: $size bytes, no command line size at 0x10430"
		;;
	esac
	case $raw in
	0000000000000000) KERNEL_CMDLINE_MAX=896 ;;
	00000000000*) KERNEL_CMDLINE_MAX=$((0x$raw)) ;;
	esac
	[ "$KERNEL_CMDLINE_MAX" -le "$KERNEL_ARG_MAX" ] || KERNEL_CMDLINE_MAX=$KERNEL_ARG_MAX
}

# cmdline_check NAME: dies when APPEND_LINE does not fit the kernel's command line.
cmdline_check() {
	[ "${#APPEND_LINE}" -lt "$KERNEL_CMDLINE_MAX" ] && return 0
	die "the command line of $1 is ${#APPEND_LINE} bytes, but kernel '$KERNEL_NAME' accepts at most $((KERNEL_CMDLINE_MAX - 1)) (its max_command_line_size at 0x10430 is $KERNEL_CMDLINE_MAX, with the NUL): not booted"
}

# boot_plan KERNEL_LOCATION: tells fetch-url.sh every file boot_fetch will ask for, in
# order (url_plan): the kernel, its .sig, each initrd part and its .sig, so that one curl
# fetches those by URL. The initrd file is made empty first: curl may write the first
# part into it while the kernel is being checked. Sets INITRD_FILE (empty without
# initrds).
boot_plan() {
	url_plan_reset
	url_plan "$1" "$WORK/kernel"
	verify_plan "$WORK/kernel" "$1"
	INITRD_FILE=
	[ -n "$INITRDS" ] || return 0
	INITRD_FILE=$WORK/initrd
	: >"$INITRD_FILE" || die "cannot write $INITRD_FILE"
	each_initrd boot_plan_initrd
}

# boot_plan_initrd NAME: one initrd part and its .sig into the plan.
boot_plan_initrd() {
	resolve_set "$1"
	url_plan "$RESOLVED" "$INITRD_FILE" append
	verify_plan "$INITRD_FILE" "$RESOLVED"
}

# each_initrd FUNCTION: FUNCTION NAME for each name of the entry's INITRDS (comma-separated,
# empty names skipped), in order. FUNCTION sees its caller's local variables.
each_initrd() {
	local fn=$1 name IFS_SAVE=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split at the commas, globbing is off
	set -- $INITRDS
	IFS=$IFS_SAVE
	for name; do
		[ -z "$name" ] || "$fn" "$name"
	done
}

boot_fetch() {
	local location name size before pad=0
	resolve_set "$ENTRY_KERNEL"
	location=$RESOLVED
	entry_initrds
	# A boot that ends early (a kernel refused, a signature missing) stops a curl still
	# fetching its next files.
	trap url_batch_stop EXIT
	boot_plan "$location"
	fetch_required "$location" kernel "$WORK/kernel"
	size=$FETCH_SIZE # before verify_file: fetching a signature sets FETCH_SIZE too
	shown_set "$location"
	verify_file "$WORK/kernel" "$location" || die "kernel '$SHOWN' $VERIFY_ERROR"
	KERNEL_NAME=$SHOWN
	kernel_check "$WORK/kernel" "$KERNEL_NAME" "$size"
	if [ -n "$ENTRY_LABEL" ]; then name="label '$ENTRY_LABEL'"; else name="'$ENTRY_KERNEL'"; fi
	cmdline_check "$name"
	INITRD_NAMES=
	[ -n "$INITRD_FILE" ] || return 0
	size=0
	FETCH_APPEND=1
	each_initrd boot_fetch_initrd
	FETCH_APPEND=0
	[ -n "$INITRD_NAMES" ] || INITRD_FILE=
}

# boot_fetch_initrd NAME: one initrd part appended to INITRD_FILE, after the zeros that
# pad the part before it to 4 KiB (the kernel skips them between concatenated archives);
# boot_fetch's size, pad and before carry from one part to the next.
boot_fetch_initrd() {
	local location
	if [ "$pad" -gt 0 ]; then
		head -c "$pad" /dev/zero >>"$INITRD_FILE" || die "cannot write $INITRD_FILE"
		size=$((size + pad))
	fi
	resolve_set "$1"
	location=$RESOLVED
	before=$size
	# The file's size as counted here: fetch needs no stat for where the part begins.
	FETCH_APPEND_SIZE=$size
	fetch_required "$location" initrd "$INITRD_FILE"
	size=$FETCH_SIZE # before verify_file: fetching a signature sets FETCH_SIZE too
	shown_set "$location"
	verify_file "$INITRD_FILE" "$location" "$before" ||
		die "initrd '$SHOWN' $VERIFY_ERROR"
	INITRD_NAMES="$INITRD_NAMES
$SHOWN"
	[ "$size" -gt "$before" ] ||
		die "initrd '$SHOWN' is empty (0 bytes): the server sent no initrd"
	pad=$(((4096 - size % 4096) % 4096))
}

boot_report() {
	local name
	printf 'config=%s\n' "$CONFIG_NAME"
	printf 'label=%s\n' "$ENTRY_LABEL"
	printf 'kernel=%s\n' "$KERNEL_NAME"
	printf '%s\n' "$INITRD_NAMES" | while IFS= read -r name; do
		[ -n "$name" ] && printf 'initrd=%s\n' "$name"
	done
	printf 'append=%s\n' "$APPEND_LINE"
}

boot_report_entries() {
	local index=1 count sep
	count=$(label_count)
	sep=$(printf '\037')
	while [ "$index" -le "$count" ]; do
		(
			entry_build_label "$index" ''
			initrds=''
			if [ "$(label_get "$index" hasappend)" = 1 ]; then
				raw=$(label_get "$index" append)
			else
				raw=$(config_get append)
			fi
			case $ENTRY_TYPE in
			kernel | linux)
				entry_split
				entry_initrds
				line=$APPEND_LINE
				kernel=$(shown "$(resolve "$ENTRY_KERNEL")")
				IFS_SAVE=$IFS
				IFS=,
				# shellcheck disable=SC2086 # split at the commas, globbing is off
				set -- $INITRDS
				IFS=$IFS_SAVE
				for name; do
					[ -n "$name" ] || continue
					initrds="${initrds:+$initrds,}$(shown "$(resolve "$name")")"
				done
				;;
			*) kernel=$ENTRY_KERNEL line=$ENTRY_KARGS ;;
			esac
			printf 'entry=%s%s%s%s%s%s%s%s%s%s%s\n' "$ENTRY_LABEL" "$sep" "$ENTRY_TYPE" \
				"$sep" "$kernel" "$sep" "$initrds" "$sep" "$line" "$sep" "$raw"
		)
		index=$((index + 1))
	done
}

# boot_load -s|-l: kexec's load of the fetched files in one of its two system calls.
boot_load() {
	if [ -n "$INITRD_FILE" ]; then
		kexec "$1" "$WORK/kernel" --initrd="$INITRD_FILE" --command-line="$APPEND_LINE"
	else
		kexec "$1" "$WORK/kernel" --command-line="$APPEND_LINE"
	fi
}

boot_kexec() {
	local name
	say "kernel $KERNEL_NAME"
	while IFS= read -r name; do
		[ -n "$name" ] && say "initrd $name"
	done <<EOF
$INITRD_NAMES
EOF
	say "command line: $APPEND_LINE"
	case ${PXE_KEXEC:-auto} in
	file) boot_load -s || die "kexec -s (kexec_file_load) failed to load kernel $KERNEL_NAME" ;;
	load) boot_load -l || die "kexec -l failed to load kernel $KERNEL_NAME" ;;
	auto)
		if [ "${PXE_KEXEC_FILE-}" = no ]; then
			# Known when the image was built: its kernel has no KEXEC_FILE.
			say "loading with kexec -l (this image's kernel has no kexec_file_load)"
			boot_load -l || die "kexec -l failed to load kernel $KERNEL_NAME"
		elif boot_load -s 2>"$WORK/kexec.err"; then
			debug "loaded with kexec -s (kexec_file_load)"
		else
			[ "$PXE_VERBOSITY" -lt 2 ] || debug "kexec -s: $(tr '\n' ' ' <"$WORK/kexec.err")"
			say "kexec_file_load refused (kernel without KEXEC_FILE?): loading with kexec -l"
			boot_load -l || die "kexec -l failed to load kernel $KERNEL_NAME"
		fi
		;;
	*) die "PXE_KEXEC '$PXE_KEXEC' is not auto, file or load" ;;
	esac
	say "starting kernel $KERNEL_NAME"
	kexec -e
	die "kexec -e returned: the loaded kernel $KERNEL_NAME did not start"
}
