#!/bin/sh
# /init of the composer PXELINUX image: mounts the kernel file systems, loads the network
# modules, gets a DHCP lease with udhcpc and runs the boot script, which kexecs into the
# kernel the PXELINUX configuration names. As PID 1 it never exits: a failure is reported
# and then handled as PXE_ON_FAILURE says (shell, retry or poweroff).
#
#   /init          as PID 1: the whole boot, forever
#   /init net      (from a shell) modules, interface and DHCP once
#   /init boot     (from a shell) the same, then the boot script
#
# Installed as ROOT/init, it reads ROOT/etc/pxeboot.conf and ROOT/lib/pxeboot/common.sh
# (ROOT is / in the image). Copied by composer from templates/init.sh; POSIX sh.

PATH=${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}
export PATH

case $0 in
*/*) PXE_ROOT=${0%/*} ;;
*) PXE_ROOT=. ;;
esac
PXE_TAG=init
if [ ! -r "$PXE_ROOT/etc/pxeboot.conf" ]; then
	echo "init: error: no $PXE_ROOT/etc/pxeboot.conf beside $0" >&2
	exit 1
fi
# shellcheck source-path=SCRIPTDIR
# shellcheck source=etc/pxeboot.conf
. "$PXE_ROOT/etc/pxeboot.conf"
# shellcheck source=lib/pxeboot/common.sh
. "$PXE_ROOT/lib/pxeboot/common.sh"
# The udhcpc event script finds the settings through PXE_ROOT.
export PXE_ROOT PXE_STATE_DIR PXE_VERBOSITY

# fail WHAT: records why this boot attempt failed, for the report after it.
fail() {
	FAILURE=$*
	return 1
}

# --- kernel file systems and console -----------------------------------------------------

mount_fs() {
	mkdir -p /dev /proc /sys /run /tmp
	# The archive's own /dev/console gave us a console so far; devtmpfs has the rest.
	mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev ||
		echo "init: warning: cannot mount devtmpfs on /dev; keeping the image's /dev"
	# A failed redirection would end PID 1 (and panic the kernel): try it in a subshell first.
	if [ -c /dev/console ] && (: </dev/console >/dev/console) 2>/dev/null; then
		exec </dev/console >/dev/console 2>&1
	fi
	mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount proc on /proc" || return 1
	mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "cannot mount sysfs on /sys" || return 1
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || fail "cannot mount tmpfs on /run" || return 1
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "cannot mount tmpfs on /tmp" || return 1
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	return 0
}

# --- network -----------------------------------------------------------------------------

load_modules() {
	local module
	MODPROBE_FAILED=
	for module in $PXE_MODULES; do
		debug "modprobe $module"
		modprobe "$module" || MODPROBE_FAILED="$MODPROBE_FAILED $module"
	done
	[ -z "$MODPROBE_FAILED" ] || echo "init: warning: modprobe failed for:$MODPROBE_FAILED"
}

wait_interface() {
	local waited=0 present
	while [ ! -e "/sys/class/net/$PXE_INTERFACE" ]; do
		if [ "$waited" -ge "$PXE_INTERFACE_WAIT" ]; then
			present=$(ls /sys/class/net 2>/dev/null | tr '\n' ' ')
			fail "network interface $PXE_INTERFACE did not appear within $PXE_INTERFACE_WAIT s" \
				"(interfaces: ${present:-none}; modules: ${PXE_MODULES:-none}" \
				"${MODPROBE_FAILED:+; modprobe failed for:$MODPROBE_FAILED})"
			return 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
}

# client_arch_hex: option 93 as the four hex digits udhcpc's -x wants (0x001f -> 001f).
client_arch_hex() {
	local arch=${PXE_CLIENT_ARCH#0[xX]}
	case $arch in
	'' | *[!0-9a-fA-F]* | ?????*) return 1 ;;
	esac
	printf '%04x' "0x$arch"
}

dhcp() {
	local arch_opt=
	if [ -n "$PXE_CLIENT_ARCH" ]; then
		arch_opt=$(client_arch_hex) ||
			fail "client_arch '$PXE_CLIENT_ARCH' is not a 16-bit hex number (like 0x001f)" ||
			return 1
		arch_opt="-x 93:$arch_opt"
	fi
	ip link set dev "$PXE_INTERFACE" up || fail "cannot bring $PXE_INTERFACE up" || return 1
	mkdir -p "$PXE_STATE_DIR" || fail "cannot create $PXE_STATE_DIR" || return 1
	rm -f "$PXE_STATE_DIR/dhcp.env"
	say "DHCP on $PXE_INTERFACE"
	# -O: option 66 (TFTP server), 67 (boot file), 209 (config file), 210 (path prefix).
	# shellcheck disable=SC2086 # arch_opt is two words or none
	udhcpc -i "$PXE_INTERFACE" -s "$PXE_ROOT$PXE_UDHCPC_SCRIPT" -f -q -n \
		-t "$PXE_DHCP_RETRIES" -T "$PXE_DHCP_TIMEOUT" \
		-O 66 -O 67 -O 209 -O 210 $arch_opt ||
		fail "no DHCP lease on $PXE_INTERFACE after $PXE_DHCP_RETRIES requests" \
			"$PXE_DHCP_TIMEOUT s apart" || return 1
	[ -r "$PXE_STATE_DIR/dhcp.env" ] ||
		fail "udhcpc got a lease but $PXE_UDHCPC_SCRIPT did not record it in $PXE_STATE_DIR/dhcp.env"
}

net() {
	load_modules
	wait_interface && dhcp
}

boot() {
	local rc
	net || return 1
	sh "$PXE_ROOT$PXE_BOOT_SCRIPT"
	rc=$?
	fail "boot script $PXE_BOOT_SCRIPT ended (exit $rc) without starting a kernel; its messages are above"
}

# --- PID 1 -------------------------------------------------------------------------------

run_shell() {
	echo "init: starting a shell; '/init net' redoes DHCP, 'exit' tries the whole boot again"
	if command -v setsid >/dev/null 2>&1 && command -v cttyhack >/dev/null 2>&1; then
		setsid cttyhack sh
	else
		sh
	fi
}

after_failure() {
	echo "init: boot failed: $FAILURE"
	case $PXE_ON_FAILURE in
	shell) run_shell ;;
	retry)
		echo "init: trying again in $PXE_RETRY_DELAY s"
		sleep "$PXE_RETRY_DELAY"
		;;
	poweroff)
		echo "init: powering off"
		sync
		poweroff -f || echo "init: poweroff -f failed; trying the boot again"
		sleep 10
		;;
	*)
		echo "init: on_failure '$PXE_ON_FAILURE' is not shell, retry or poweroff; starting a shell"
		run_shell
		;;
	esac
}

pid1() {
	local fs_ready=0
	while :; do
		FAILURE="unknown failure"
		if [ "$fs_ready" = 1 ] || mount_fs; then
			fs_ready=1
			boot
		fi
		after_failure
	done
}

is_uint "$PXE_VERBOSITY" || PXE_VERBOSITY=1
is_uint "$PXE_RETRY_DELAY" || PXE_RETRY_DELAY=10
if [ "$$" = 1 ]; then
	# The kernel passes unknown boot parameters as arguments: PID 1 ignores them.
	pid1
fi
case $1 in
net | boot)
	FAILURE=
	"$1" && exit 0
	echo "init: $1 failed: $FAILURE" >&2
	exit 1
	;;
*)
	echo "usage: /init [net|boot] (the whole boot runs only as PID 1)" >&2
	exit 2
	;;
esac
