# shellcheck shell=dash
# boot.sh: the chosen entry's files, and the hand-over to the kernel.
#
# Exports: boot_fetch    fetches ENTRY_KERNEL into $WORK/kernel and the INITRDS, in
#                        order, into one $WORK/initrd (each but the last zero-padded to
#                        4 KiB, as syslinux does); sets KERNEL_NAME, INITRD_NAMES (one per
#                        line, as shown) and INITRD_FILE (empty without initrds);
#          boot_report   prints the dry run's result: config= label= kernel= initrd=...
#                        append= (stdout holds nothing else);
#          boot_kexec    kexec -l the files with APPEND_LINE, then kexec -e; dies if
#                        either returns.
# Reads:   ENTRY_* APPEND_LINE INITRDS (choose.sh), CONFIG_NAME, WORK.

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
		fetch_required "$location" initrd "$WORK/initrd.part"
		INITRD_NAMES="$INITRD_NAMES
$(shown "$location")"
		cat "$WORK/initrd.part" >>"$INITRD_FILE" || die "cannot write $INITRD_FILE"
		size=$(wc -c <"$WORK/initrd.part")
		pad=$(((4096 - size % 4096) % 4096))
		rm -f "$WORK/initrd.part"
	done
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

boot_kexec() {
	local name
	say "kernel $KERNEL_NAME"
	printf '%s\n' "$INITRD_NAMES" | while IFS= read -r name; do
		[ -n "$name" ] && say "initrd $name"
	done
	say "command line: $APPEND_LINE"
	if [ -n "$INITRD_FILE" ]; then
		kexec -l "$WORK/kernel" --initrd="$INITRD_FILE" --command-line="$APPEND_LINE" ||
			die "kexec -l failed to load kernel $KERNEL_NAME"
	else
		kexec -l "$WORK/kernel" --command-line="$APPEND_LINE" ||
			die "kexec -l failed to load kernel $KERNEL_NAME"
	fi
	say "starting kernel $KERNEL_NAME"
	kexec -e
	die "kexec -e returned: the loaded kernel $KERNEL_NAME did not start"
}
