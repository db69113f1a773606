# shellcheck shell=dash
# nic.sh: which network card to run DHCP on.
#
# With PXE_INTERFACE "auto", the card the firmware booted from comes first: on s390,
# /sys/firmware/ipl/ipl_type is "ccw" and /sys/firmware/ipl/device names its device
# (0.0.0000), and the interface is the one whose sysfs device lies under that CCW device,
# /sys/bus/ccw/devices/<device> (/sys/devices/css0/<subchannel>/<device>/virtio<n> for
# virtio-net-ccw; subchannel and device numbers need not match). Then every
# other interface but lo, in name order, as a fallback ("try each interface in turn").
# Any other value names the one interface to use. BOOTIF and the 01-<mac> config use the
# card that got the lease: the udhcpc event script records that card's MAC address.
#
# Exports: nic_ipl_device        prints the IPL device (empty when not a CCW IPL);
#                                nic_ipl_device_set: the same in NIC_IPL;
#          nic_of_device DEV     prints the interface of CCW device DEV (empty if none);
#                                nic_of_device_set DEV: the same in NIC_OF;
#          nic_candidates        prints the interfaces to try, in order, one per line;
#                                nic_candidates_set: the same in NIC_CANDIDATES (and
#                                NIC_IPL, NIC_OF with PXE_INTERFACE auto);
#          nic_wait              waits up to PXE_INTERFACE_WAIT s for them to appear;
#                                false (NIC_PROBLEM says why) when none did;
#          nic_ipv6_early IFACE  before IFACE comes up: no duplicate address detection
#                                on it unless PXE_IPV6_DAD is true (see below).
#          Bringing a card up is common.sh's nic_up (udhcpc's event script needs it too).
# Reads:   PXE_INTERFACE PXE_INTERFACE_WAIT PXE_IPV6_DAD, PXE_SYSFS (default /sys: a test points it
#          at a directory laid out like sysfs). Needs pathname expansion (init has it on).

nic_ipl_device() {
	nic_ipl_device_set
	[ -z "$NIC_IPL" ] || printf '%s\n' "$NIC_IPL"
}

# nic_ipl_device_set: nic_ipl_device's answer in NIC_IPL, in this shell.
nic_ipl_device_set() {
	local ipl=${PXE_SYSFS:-/sys}/firmware/ipl type device
	NIC_IPL=
	[ -r "$ipl/ipl_type" ] && [ -r "$ipl/device" ] || return 0
	read -r type <"$ipl/ipl_type"
	[ "$type" = ccw ] || return 0
	read -r device <"$ipl/device" && NIC_IPL=$device
	return 0
}

# nic_real_dir DIR: DIR with every symbolic link resolved in NIC_REAL (cd -P, and back:
# no readlink process per sysfs link); false when DIR is no directory.
nic_real_dir() {
	local here=$PWD
	NIC_REAL=
	cd -P "$1" 2>/dev/null || return 1
	NIC_REAL=$PWD
	cd "$here" || cd /
}

nic_of_device() {
	nic_of_device_set "$1"
	[ -z "$NIC_OF" ] || printf '%s\n' "$NIC_OF"
}

# nic_of_device_set DEV: nic_of_device's answer in NIC_OF, in this shell.
nic_of_device_set() {
	local sys=${PXE_SYSFS:-/sys} net path device
	NIC_OF=
	[ -n "$1" ] || return 0
	nic_real_dir "$sys/bus/ccw/devices/$1" || return 0
	device=$NIC_REAL
	[ -n "$device" ] || return 0
	for net in "$sys"/class/net/*; do
		nic_real_dir "$net/device" || continue
		path=$NIC_REAL
		case $path/ in
		"$device"/*)
			NIC_OF=${net##*/}
			return 0
			;;
		esac
	done
}

nic_candidates() {
	nic_candidates_set
	[ -z "$NIC_CANDIDATES" ] || printf '%s\n' "$NIC_CANDIDATES"
}

# nic_candidates_set: nic_candidates' answer in NIC_CANDIDATES (one per line), in this
# shell; with PXE_INTERFACE auto, NIC_IPL and NIC_OF are the boot device and its card.
nic_candidates_set() {
	local sys=${PXE_SYSFS:-/sys} first net nl='
'
	NIC_CANDIDATES=
	if [ "$PXE_INTERFACE" != auto ]; then
		NIC_CANDIDATES=$PXE_INTERFACE
		return 0
	fi
	nic_ipl_device_set
	nic_of_device_set "$NIC_IPL"
	first=$NIC_OF
	NIC_CANDIDATES=$first
	for net in "$sys"/class/net/*; do
		net=${net##*/}
		[ "$net" = '*' ] || [ "$net" = lo ] || [ "$net" = "$first" ] ||
			NIC_CANDIDATES=$NIC_CANDIDATES${NIC_CANDIDATES:+$nl}$net
	done
}

nic_wait() {
	local sys=${PXE_SYSFS:-/sys} waited=0 ipl present wanted
	nic_ipl_device_set
	ipl=$NIC_IPL
	while :; do
		if [ "$PXE_INTERFACE" != auto ]; then
			[ -e "$sys/class/net/$PXE_INTERFACE" ] && return 0
			wanted="network interface $PXE_INTERFACE"
		elif [ -n "$ipl" ]; then
			# The boot card's driver may bind after the others: wait for that one.
			nic_of_device_set "$ipl"
			[ -n "$NIC_OF" ] && return 0
			wanted="the network interface of the boot device $ipl"
		else
			nic_candidates_set
			[ -n "$NIC_CANDIDATES" ] && return 0
			wanted="a network interface"
		fi
		if [ "$waited" -ge "$PXE_INTERFACE_WAIT" ]; then
			present=$(ls "$sys/class/net" 2>/dev/null | tr '\n' ' ')
			# Without the boot card, any card is better than none.
			if [ "$PXE_INTERFACE" = auto ] && nic_candidates_set && [ -n "$NIC_CANDIDATES" ]; then
				warn "$wanted did not appear within $PXE_INTERFACE_WAIT s; trying the others"
				return 0
			fi
			NIC_PROBLEM="$wanted did not appear within $PXE_INTERFACE_WAIT s (interfaces: ${present:-none})"
			return 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
}

# nic_ipv6_early IFACE: with PXE_IPV6_DAD false (the recipe's ipv6_dad), IFACE's IPv6
# addresses are used at once instead of after duplicate address detection. DAD holds
# every new address about a second (link-local, then the DHCPv6 one), and dhcpcd waits
# for both: 3.4 s of the IPv6 boot's 4.9 s of DHCP under QEMU, as long on hardware. This
# image lives for seconds, with the address the DHCPv6 server handed it; the system it
# boots does its own DAD. Set before the link comes up, so the link-local is covered;
# a kernel without IPv6 has no such file, and that is fine.
nic_ipv6_early() {
	case ${PXE_IPV6_DAD:-False} in
	True | true | 1) return 0 ;;
	esac
	[ ! -w "/proc/sys/net/ipv6/conf/$1/accept_dad" ] ||
		echo 0 2>/dev/null >"/proc/sys/net/ipv6/conf/$1/accept_dad" || :
}
