# shellcheck shell=dash
# boot.sh: the chosen entry's files, and the hand-over to the kernel.
#
# Exports: boot_fetch    fetches ENTRY_KERNEL into $WORK/kernel and the INITRDS, in
#                        order, into one $WORK/initrd (each but the last zero-padded to
#                        4 KiB, as syslinux does), each written straight into it: an
#                        installer's initrd of hundreds of MB is never held twice; sets
#                        KERNEL_NAME, INITRD_NAMES (one per line, as shown) and
#                        INITRD_FILE (empty without initrds);
#          boot_report   prints the dry run's result: config= label= kernel= initrd=...
#                        append= (stdout holds nothing else);
#          boot_kexec    loads the files with APPEND_LINE, then kexec -e; dies if
#                        either fails. PXE_KEXEC says how: "file" kexec -s
#                        (kexec_file_load, which secure boot / lockdown require), "load"
#                        kexec -l (kexec_load), "auto" kexec -s and, where the kernel has
#                        no kexec_file_load (Debian's s390x 6.1: KEXEC_FILE unset), -l.
# Reads:   ENTRY_* APPEND_LINE INITRDS (choose.sh), CONFIG_NAME, WORK, PXE_KEXEC.

boot_fetch() {
	local location name size pad=0 IFS_SAVE
	location=$(resolve "$ENTRY_KERNEL") || exit 1
	fetch_required "$location" kernel "$WORK/kernel"
	KERNEL_NAME=$(shown "$location")
	INITRD_NAMES=
	INITRD_FILE=
	[ -n "$INITRDS" ] || return 0
	INITRD_FILE=$WORK/initrd
	: >"$INITRD_FILE" || die "cannot write $INITRD_FILE"
	FETCH_APPEND=1
	IFS_SAVE=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split at the commas, globbing is off
	set -- $INITRDS
	IFS=$IFS_SAVE
	for name; do
		[ -n "$name" ] || continue
		# The kernel skips the zeros between concatenated archives.
		[ "$pad" -gt 0 ] && head -c "$pad" /dev/zero >>"$INITRD_FILE"
		location=$(resolve "$name") || exit 1
		fetch_required "$location" initrd "$INITRD_FILE"
		INITRD_NAMES="$INITRD_NAMES
$(shown "$location")"
		size=$(stat -c %s "$INITRD_FILE") || die "cannot read $INITRD_FILE"
		pad=$(((4096 - size % 4096) % 4096))
	done
	FETCH_APPEND=0
	[ -n "$INITRD_NAMES" ] || INITRD_FILE=
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
	printf '%s\n' "$INITRD_NAMES" | while IFS= read -r name; do
		[ -n "$name" ] && say "initrd $name"
	done
	say "command line: $APPEND_LINE"
	case ${PXE_KEXEC:-auto} in
	file) boot_load -s || die "kexec -s (kexec_file_load) failed to load kernel $KERNEL_NAME" ;;
	load) boot_load -l || die "kexec -l failed to load kernel $KERNEL_NAME" ;;
	auto)
		if boot_load -s 2>"$WORK/kexec.err"; then
			debug "loaded with kexec -s (kexec_file_load)"
		else
			debug "kexec -s: $(tr '\n' ' ' <"$WORK/kexec.err")"
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
