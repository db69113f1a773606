# shellcheck shell=dash
# localboot.sh: LOCALBOOT on s390: a re-IPL from a CCW disk, through /sys/firmware/reipl.
#
# Exports: localboot_run TYPE  LOCALBOOT TYPE: -1 hands the machine back to the firmware
#                              (a re-IPL as the firmware has it set, normally the device
#                              this boot came from); any other type re-IPLs from the CCW
#                              block device PXE_LOCALBOOT_DEVICE names, or else the first
#                              one (lowest bus ID). Returns only when that fails; the dry
#                              run prints localboot=DEVICE (or localboot=firmware) instead.
#          localboot_device    prints the CCW bus ID LOCALBOOT would re-IPL from, or fails.
# Reads:   PXE_SYSFS (/sys; a dry run may point it at a copy), PXE_LOCALBOOT_DEVICE.
#
# A CCW device is a disk when a block device sits under it (its driver is loaded), when
# it is a virtio-ccw device of virtio type 2 (block; control unit 3832), or a DASD by its
# device type (3390, 3380, 9345 ECKD; 9336, 3370 FBA): no driver is needed, the firmware
# reads the disk itself. QEMU 7.2 implements only the clearing re-IPL (diag 308 subcode
# 3): with reipl/ccw/clear 0 the kernel's non-clearing load stops the guest in a disabled
# wait, so LOCALBOOT sets clear to 1, as a re-IPL of another system should anyway.

# localboot_is_disk DIR: a subshell, for the globbing the rest of pxeboot keeps off.
localboot_is_disk() (
	dev=$1
	set +f
	for sub in "$dev"/*/block "$dev"/block; do
		[ -d "$sub" ] && return 0
	done
	for sub in "$dev"/virtio*/device; do
		[ -r "$sub" ] && [ "$(cat "$sub")" = 0x0002 ] && return 0
	done
	case $(cat "$dev/devtype" 2>/dev/null) in
	3390/* | 3380/* | 9345/* | 9336/* | 3370/*) return 0 ;;
	esac
	return 1
)

localboot_device() {
	local dev devices=$PXE_SYSFS/bus/ccw/devices
	if [ -n "$PXE_LOCALBOOT_DEVICE" ]; then
		[ -e "$devices/$PXE_LOCALBOOT_DEVICE" ] || {
			console_error "LOCALBOOT: no CCW device $PXE_LOCALBOOT_DEVICE (PXE_LOCALBOOT_DEVICE) in $devices"
			return 1
		}
		echo "$PXE_LOCALBOOT_DEVICE"
		return 0
	fi
	# Bus IDs (0.0.0001) sort as text; globbing is off elsewhere, on only for this list.
	for dev in $(set +f; ls -d "$devices"/*.*.* 2>/dev/null | sort); do
		if localboot_is_disk "$dev"; then
			echo "${dev##*/}"
			return 0
		fi
	done
	console_error "LOCALBOOT: no CCW block device (DASD or virtio disk) in $devices"
	return 1
}

localboot_run() {
	local type reipl=$PXE_SYSFS/firmware/reipl device
	type=$(leading_number "${1#-}")
	case $1 in -*) type=-$type ;; esac
	if [ "$type" = -1 ]; then
		if [ "$DRY_RUN" = 1 ]; then
			echo "localboot=firmware"
			return 0
		fi
		console_show "LOCALBOOT -1: back to the firmware: re-IPL $(cat "$reipl/reipl_type" 2>/dev/null) $(cat "$reipl/ccw/device" 2>/dev/null)"
	else
		device=$(localboot_device) || return 1
		if [ "$DRY_RUN" = 1 ]; then
			echo "localboot=$device"
			return 0
		fi
		{ echo ccw >"$reipl/reipl_type" && echo "$device" >"$reipl/ccw/device"; } 2>/dev/null ||
			console_error "LOCALBOOT: cannot set $reipl to CCW device $device" || return 1
		[ -w "$reipl/ccw/clear" ] && echo 1 >"$reipl/ccw/clear"
		console_show "LOCALBOOT $type: re-IPL from CCW device $device"
	fi
	sync
	reboot -f
	console_error "LOCALBOOT: reboot -f failed"
}
