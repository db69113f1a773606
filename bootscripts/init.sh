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
# (ROOT is / in the image). Copied by composer from bootscripts/init.sh; POSIX sh.

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
# shellcheck source=lib/pxeboot/nic.sh
. "$PXE_ROOT/lib/pxeboot/nic.sh"
# shellcheck source=lib/pxeboot/ipconfig.sh
. "$PXE_ROOT/lib/pxeboot/ipconfig.sh"
# The udhcpc event script finds the settings through PXE_ROOT.
export PXE_ROOT PXE_STATE_DIR PXE_VERBOSITY

# fail WHAT: records why this boot attempt failed, for the report after it.
fail() {
	FAILURE=$*
	return 1
}

# --- kernel file systems and console -----------------------------------------------------

mount_fs() {
	local mounted=''
	# The image has them: no mkdir process unless one is missing.
	[ -d /dev ] && [ -d /proc ] && [ -d /sys ] && [ -d /run ] && [ -d /tmp ] ||
		mkdir -p /dev /proc /sys /run /tmp
	# The image's etc/fstab lists the five file systems below: one mount process mounts
	# them all (busybox mount -a; each mount is a process, ~10 ms under TCG). Only in a
	# fresh boot (no proc yet): mount -a leaves out what is mounted already, and an init
	# started where proc is (a namespace) mounts over it, as it always did. When mount -a
	# fails (or there is no such file), all five are mounted one by one as below, so that
	# a failure is reported as it always was (one that mount -a made is mounted again
	# over itself: harmless, and only then).
	[ ! -e /proc/self ] && [ -r "$PXE_ROOT/etc/fstab" ] &&
		mount -a -T "$PXE_ROOT/etc/fstab" 2>/dev/null && mounted=1
	# The archive's own /dev/console gave us a console so far; devtmpfs has the rest.
	[ -n "$mounted" ] || mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev ||
		echo "init: warning: cannot mount devtmpfs on /dev; keeping the image's /dev"
	# A failed redirection of a plain exec would end PID 1 (and panic the kernel): `command`
	# keeps the shell (no subshell to try it first: a fork is ~5 ms under TCG).
	[ ! -c /dev/console ] || command exec </dev/console >/dev/console 2>&1 ||
		echo "init: warning: cannot open /dev/console; keeping the image's console"
	if [ -z "$mounted" ]; then
		mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount proc on /proc" || return 1
		mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "cannot mount sysfs on /sys" || return 1
		mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || fail "cannot mount tmpfs on /run" || return 1
		mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "cannot mount tmpfs on /tmp" || return 1
	fi
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
	nic_wait && return 0
	fail "$NIC_PROBLEM (modules: ${PXE_MODULES:-none}" \
		"${MODPROBE_FAILED:+; modprobe failed for:$MODPROBE_FAILED})"
}

# client_arch_hex: option 93 as the four hex digits udhcpc's -x wants (0x001f -> 001f),
# in ARCH_HEX, padded and in lower case by the shell (no printf subshell).
client_arch_hex() {
	local arch=${PXE_CLIENT_ARCH#0[xX]}
	ARCH_HEX=
	case $arch in
	'' | *[!0-9a-fA-F]* | ?????*) return 1 ;;
	esac
	while [ "${#arch}" -lt 4 ]; do arch=0$arch; done
	hex_lower_set "$arch"
	ARCH_HEX=$LOWER
}

# dhcp_families: which DHCP to run, in order, in FAMILIES: 4 (udhcpc), 6 (dhcpcd: DHCPv6
# and SLAAC). The firmware leaves no trace of the family it booted over, so "auto" tries
# IPv4 first, but only its first DHCP_FIRST requests before a look at IPv6: 4first (those
# requests), then 4rest (the others) and 6, or, when an IPv6 router has advertised on the
# link by then, 6 and 4rest (see dhcp). The first look spans at least DHCP4_PATIENCE
# seconds (4: dnsmasq checks a new address by ping for up to 3 s before it offers it,
# busybox udhcpd by ARP for 2 s), so that an IPv4 server's first answer, late as it may
# be, is still taken by the one udhcpc, as before. An IPv6-only site's DHCPv6 begins
# after 2 x 3 s with the stock dhcp_timeout, not after all dhcp_retries (15 s).
DHCP4_PATIENCE=4
dhcp_families() {
	case $PXE_DHCP in
	auto | '')
		FAMILIES="4 6" DHCP_FIRST=$PXE_DHCP_RETRIES
		[ "$PXE_DHCP_TIMEOUT" -ge 1 ] &&
			DHCP_FIRST=$(((DHCP4_PATIENCE + PXE_DHCP_TIMEOUT - 1) / PXE_DHCP_TIMEOUT))
		[ "$DHCP_FIRST" -ge "$PXE_DHCP_RETRIES" ] || FAMILIES="4first 4rest 6"
		;;
	ipv4 | dhcp | 4) FAMILIES=4 ;;
	ipv6 | dhcp6 | 6) FAMILIES=6 ;;
	*) return 1 ;;
	esac
}

# dhcp4 IFACE [REQUESTS]: a DHCPv4 lease from udhcpc, REQUESTS (PXE_DHCP_RETRIES)
# discovers PXE_DHCP_TIMEOUT s apart.
dhcp4() {
	# -O: option 66 (TFTP server), 67 (boot file), 209 (config file), 210 (path
	# prefix), 211 (reboot time).
	# shellcheck disable=SC2086 # arch_opt is two words or none
	udhcpc -i "$1" -s "$PXE_ROOT$PXE_UDHCPC_SCRIPT" -f -q -n \
		-t "${2:-$PXE_DHCP_RETRIES}" -T "$PXE_DHCP_TIMEOUT" \
		-O 66 -O 67 -O 209 -O 210 -O 211 $arch_opt
}

# dhcp6 IFACE: a DHCPv6 lease (or SLAAC and stateless DHCPv6) from dhcpcd, for as long
# as udhcpc would try. Not dhcpcd's oneshot mode: that ends as soon as the interface has
# an address, and SLAAC's (the kernel's, during DHCPv4) may be there before any DHCPv6
# answer. So dhcpcd runs until the event script has recorded the lease, then is stopped
# (`persistent` in dhcpcd.conf: the addresses and routes stay). The event script says
# so on the FIFO $PXE_STATE_DIR/dhcp6.fifo, which init holds open for reading and writing
# (fd 5: neither side's open blocks), so init wakes at the lease, not at a poll tick.
# dhcpcd's own messages (with -q its warnings and errors) go to a file, shown when it
# has stopped (dhcpcd_messages); the event script's lines come to the console as they
# happen (it writes them to dhcpcd's standard output); with -d, all of it comes live.
dhcp6() {
	local noise=-q ticks=0 pid fifo="$PXE_STATE_DIR/dhcp6.fifo" modprobe=''
	[ "$PXE_VERBOSITY" -ge 2 ] && noise=-d
	command -v dhcpcd >/dev/null 2>&1 || fail "no dhcpcd in the image for DHCPv6" || return 1
	mkdir -p /var/lib/dhcpcd /run/dhcpcd
	# dhcpcd asks whether the card is a VLAN (SIOCGIFVLAN), and without 8021q loaded the
	# kernel runs modprobe 8021q for that ioctl while dhcpcd waits: ~0.2 s under TCG, for
	# a module DHCPv6 does not need (IPv6 and packet sockets are built into Debian's
	# kernel; vlan= loads 8021q itself). The kernel's module loader is off while dhcpcd
	# runs (an empty /proc/sys/kernel/modprobe) and put back after.
	[ ! -r /proc/sys/kernel/modprobe ] || read -r modprobe </proc/sys/kernel/modprobe
	[ -z "$modprobe" ] || echo >/proc/sys/kernel/modprobe 2>/dev/null || modprobe=''
	# Without the FIFO (it cannot be made), dhcp6_wait sleeps: the old poll.
	DHCP6_WAKE=
	[ ! -e "$fifo" ] || rm -f "$fifo"
	mkfifo -m 0600 "$fifo" 2>/dev/null && command exec 5<>"$fifo" && DHCP6_WAKE=1
	{ [ "$noise" = -q ] && command exec 6>"$PXE_STATE_DIR/dhcpcd.err"; } 2>/dev/null ||
		command exec 6>&2
	dhcpcd -6 -B $noise -f "$PXE_ROOT/etc/dhcpcd.conf" -c "$PXE_ROOT$PXE_UDHCPC_SCRIPT" "$1" \
		2>&6 5>&- 6>&- &
	pid=$!
	exec 6>&-
	while [ ! -r "$PXE_STATE_DIR/dhcp.env" ] && running "$pid" &&
		[ "$ticks" -lt $((PXE_DHCP_TIMEOUT * PXE_DHCP_RETRIES * 5)) ]; do
		dhcp6_wait 0.2
		ticks=$((ticks + 1))
	done
	dhcp6_stop "$pid"
	dhcpcd_messages "$PXE_STATE_DIR/dhcpcd.err"
	# The path first, then init's end: an event script that finds no FIFO writes none,
	# and none opens it after its last reader is gone (that open would block).
	rm -f "$fifo"
	[ -z "$DHCP6_WAKE" ] || exec 5>&-
	[ -z "$modprobe" ] || echo "$modprobe" >/proc/sys/kernel/modprobe
	[ -r "$PXE_STATE_DIR/dhcp.env" ]
}

# dhcpcd_messages FILE: what dhcpcd said into FILE, on the console, then FILE removed;
# all of it but "dhcp_vendor: No such process", which dhcpcd says at every start on
# s390x: it takes its vendor class from a "Manufacturer" line of /proc/cpuinfo, which
# s390x's has not, and then sends none (harmless: the image asks for none).
dhcpcd_messages() {
	local line
	if [ -s "$1" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			[ "$line" = "dhcp_vendor: No such process" ] || printf '%s\n' "$line" >&2
		done <"$1"
	fi
	rm -f "$1"
}

# dhcp6_wait SECONDS: up to SECONDS (fractions too), less when the event script writes to
# the FIFO; a `read -t` on it, no process (each `sleep` is an exec, ~10-30 ms under TCG).
dhcp6_wait() {
	if [ -n "$DHCP6_WAKE" ]; then
		# busybox ash's read -t takes fractions of a second.
		# shellcheck disable=SC3045
		read -r -t "$1" _ <&5
	else
		sleep "$1"
	fi
	return 0
}

# running PID: PID has not ended. Not `kill -0`: that also succeeds for a child that
# ended and that the shell has not reaped yet (a zombie), which ash does only in `wait`.
running() {
	local state
	read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" && [ "$state" != Z ]
}

# dhcp6_stop PID: dhcpcd told to end (`persistent`: its addresses and routes stay), seen
# ending within 0.05 s, given 2 s, then killed. The TERM is sent again every 0.05 s:
# dhcpcd 9 waits for each request to its privileged helper, the event script's run
# among them, in a second event loop (ps_root_readerror), and a TERM that comes then is
# not acted on. The BOUND6 run that wakes init has not returned yet: in the lab one
# TERM sent at once was lost in 3 boots of 3 (KILL after 2 s), as it was now and then
# after the old 0.2 s poll (boots that hung after "BOUND6", before the KILL).
dhcp6_stop() {
	local ticks=0
	while running "$1" && [ "$ticks" -lt 40 ]; do
		kill "$1" 2>/dev/null
		dhcp6_wait 0.05
		ticks=$((ticks + 1))
	done
	[ "$ticks" -lt 40 ] || { warn "dhcpcd did not end within 2 s of TERM: killed"; kill -9 "$1" 2>/dev/null; }
	wait "$1" 2>/dev/null
}

# ipv6_router_heard IFACE: the kernel has taken a router advertisement on IFACE, as its
# own IPv6 autoconfiguration does from the moment the link is up: a route it made from
# one is in /proc/net/ipv6_route with RTF_ADDRCONF (0x40000) in its flags (the default
# route via that router, or the advertised on-link prefix). Read by the shell, no process;
# false without IPv6 in the kernel.
ipv6_router_heard() {
	local flags device
	[ -r /proc/net/ipv6_route ] || return 1
	while read -r _ _ _ _ _ _ _ _ flags device; do
		case $flags in
		'' | *[!0-9a-f]*) continue ;;
		esac
		[ "$device" = "$1" ] && [ $((0x$flags & 0x40000)) != 0 ] && return 0
	done </proc/net/ipv6_route
	return 1
}

# dhcp: a lease on the first of nic.sh's candidates that gets one (the boot card first),
# IPv4 then IPv6 on each (dhcp_families: with "auto", IPv6 after IPv4's first
# DHCP_FIRST requests when an IPv6 router has advertised on the card).
dhcp() {
	local arch_opt='' interface tried ipl boot_nic families step steps family what candidates
	local requests again said rest more first_wait
	dhcp_families || fail "dhcp '$PXE_DHCP' is not auto, ipv4 or ipv6" || return 1
	families=$FAMILIES
	if [ -n "$PXE_CLIENT_ARCH" ]; then
		client_arch_hex ||
			fail "client_arch '$PXE_CLIENT_ARCH' is not a 16-bit hex number (like 0x001f)" ||
			return 1
		arch_opt="-x 93:$ARCH_HEX"
	fi
	[ -d "$PXE_STATE_DIR" ] || mkdir -p "$PXE_STATE_DIR" || fail "cannot create $PXE_STATE_DIR" || return 1
	[ ! -e "$PXE_STATE_DIR/dhcp.env" ] || rm -f "$PXE_STATE_DIR/dhcp.env"
	tried=''
	nic_candidates_set
	candidates=$NIC_CANDIDATES
	if [ "$PXE_INTERFACE" != auto ]; then
		nic_ipl_device_set
		nic_of_device_set "$NIC_IPL"
	fi
	ipl=$NIC_IPL
	boot_nic=$NIC_OF
	# auto's second DHCPv4 step: the REST of the DISCOVERs, after the first DHCP_FIRST.
	rest=$((PXE_DHCP_RETRIES - ${DHCP_FIRST:-1}))
	more="$rest more request"
	[ "$rest" = 1 ] || more="${more}s"
	first_wait=$((${DHCP_FIRST:-1} * PXE_DHCP_TIMEOUT))
	for interface in $candidates; do
		tried="$tried $interface"
		nic_ipv6_early "$interface"
		nic_up "$interface" || { warn "cannot bring $interface up"; continue; }
		steps=$families said=''
		while [ -n "$steps" ]; do
			step=${steps%% *}
			steps=${steps#"$step"}
			steps=${steps# }
			family=${step%"${step#?}"}
			what=DHCP requests=$PXE_DHCP_RETRIES again=''
			case $step in
			6) what=DHCPv6 ;;
			4first) requests=$DHCP_FIRST ;;
			4rest) requests=$rest again=" again, $more" ;;
			esac
			# said: the line before told what comes now.
			if [ -n "$said" ]; then
				said=''
			elif [ "$interface" = "$boot_nic" ]; then
				say "$what on $interface$again (the boot device $ipl)"
			else
				say "$what on $interface$again"
			fi
			if "dhcp$family" "$interface" "$requests"; then
				[ -r "$PXE_STATE_DIR/dhcp.env" ] && return 0
				fail "$what got a lease but $PXE_UDHCPC_SCRIPT did not record it in $PXE_STATE_DIR/dhcp.env"
				return 1
			fi
			if [ "$step" != 4first ]; then
				say "no $what lease on $interface"
			elif ipv6_router_heard "$interface"; then
				# IPv6-only sites advertise a router, and DHCPv6 is what they answer; the
				# rest of DHCPv4 waits for DHCPv6 to fail (steps were "4rest 6").
				say "no DHCP lease on $interface within $first_wait s; an IPv6 router" \
					"advertises there: DHCPv6 first"
				steps="6 4rest"
			else
				say "no DHCP lease on $interface within $first_wait s and no IPv6 router" \
					"advertises there: DHCP again, $more"
				said=1
			fi
		done
		ip link set dev "$interface" down
	done
	fail "no DHCP lease on${tried:- any interface} after $PXE_DHCP_RETRIES requests" \
		"$PXE_DHCP_TIMEOUT s apart"
}

# cmdline_settings: ip=, vlan= and pxeboot.* from the command line (ipconfig.sh); a
# malformed value fails the boot with ipconfig's message.
cmdline_settings() {
	local cmdline=''
	[ -r "${PXE_CMDLINE:-/proc/cmdline}" ] && IFS= read -r cmdline <"${PXE_CMDLINE:-/proc/cmdline}"
	set -f
	ipconfig_parse "$cmdline"
	set +f
	[ -z "$IPC_ERROR" ] || fail "bad boot parameter: $IPC_ERROR" || return 1
	case $IPC_MODE in
	dhcp) PXE_DHCP=ipv4 ;;
	dhcp6) PXE_DHCP=ipv6 ;;
	esac
	if [ -n "$IPC_VLAN_NAME" ]; then
		PXE_INTERFACE=$IPC_VLAN_PARENT
	elif [ -n "$IPC_IFACE" ]; then
		PXE_INTERFACE=$IPC_IFACE
	fi
	return 0
}

# vlan_up: the tagged interface vlan= asks for, on its parent (8021q from the image).
vlan_up() {
	[ -n "$IPC_VLAN_NAME" ] || return 0
	[ -e "/sys/class/net/$IPC_VLAN_NAME" ] || {
		modprobe 8021q 2>/dev/null || [ -d /proc/net/vlan ] ||
			fail "vlan=$IPC_VLAN_NAME:$IPC_VLAN_PARENT: no 8021q module in the image" || return 1
		ip link set dev "$IPC_VLAN_PARENT" up &&
			ip link add link "$IPC_VLAN_PARENT" name "$IPC_VLAN_NAME" type vlan id "$IPC_VLAN_ID"
	} || fail "cannot make VLAN $IPC_VLAN_ID interface $IPC_VLAN_NAME on $IPC_VLAN_PARENT" || return 1
	say "VLAN $IPC_VLAN_ID: $IPC_VLAN_NAME on $IPC_VLAN_PARENT (vlan=)"
	PXE_INTERFACE=$IPC_VLAN_NAME
}

# static_address: ip=CLIENT:...:none, configured by the event script as a lease would be.
static_address() {
	local interface action=bound
	interface=$(nic_candidates | head -n 1)
	[ "$IPC_FAMILY" = 6 ] && action=static6
	mkdir -p "$PXE_STATE_DIR" || fail "cannot create $PXE_STATE_DIR" || return 1
	rm -f "$PXE_STATE_DIR/dhcp.env"
	nic_ipv6_early "$interface"
	ip link set dev "$interface" up || fail "cannot bring $interface up" || return 1
	[ -n "$IPC_MTU" ] && ip link set dev "$interface" mtu "$IPC_MTU"
	say "static address $IPC_ADDR/$IPC_BITS on $interface (ip=), no DHCP"
	if [ "$IPC_FAMILY" = 6 ]; then
		PXE_VERBOSITY=0 interface=$interface ip6=$IPC_ADDR mask=$IPC_BITS router=$IPC_GW dns=$IPC_DNS \
			hostname=$IPC_HOSTNAME siaddr=$IPC_SERVER "$PXE_ROOT$PXE_UDHCPC_SCRIPT" $action
	else
		PXE_VERBOSITY=0 interface=$interface ip=$IPC_ADDR mask=$IPC_BITS subnet=$IPC_NETMASK router=$IPC_GW \
			dns=$IPC_DNS hostname=$IPC_HOSTNAME siaddr=$IPC_SERVER \
			"$PXE_ROOT$PXE_UDHCPC_SCRIPT" $action
	fi
	[ -r "$PXE_STATE_DIR/dhcp.env" ] ||
		fail "cannot configure $IPC_ADDR/$IPC_BITS on $interface (ip=)"
}

# cmdline_dns: pxeboot.dns= wins over the name servers of the lease or of ip=.
cmdline_dns() {
	local server
	[ -n "$IPC_PXE_DNS" ] || return 0
	for server in $IPC_PXE_DNS; do echo "nameserver $server"; done >"$PXE_RESOLV_CONF"
	say "name servers $IPC_PXE_DNS (pxeboot.dns=)"
}

net() {
	load_modules
	cmdline_settings && wait_interface && vlan_up || return 1
	# For a boot (not `/init net`): the boot script, once the modules are in (the CPU is
	# theirs until then), reads its library while DHCP waits for the server.
	if [ "${EARLY_WANTED-}" = 1 ] && command exec 4<&0; then
		early_start
		exec 4<&-
	fi
	if [ "$IPC_MODE" = static ]; then
		static_address
	else
		dhcp
	fi && cmdline_dns
}

# early_start: the image's own boot script, /sbin/pxeboot, is started before DHCP (input
# from fd 4, the console): it reads its library (~70-100 ms of a TCG guest's CPU) while
# udhcpc waits for the server's answers, then waits for one line on the FIFO LEASE_FIFO
# ("go": the lease is recorded; anything else: no lease, end quietly). It runs at nice 19
# (one renice): the guest's CPU is not idle before udhcpc's discover (udhcpc's start, its
# deconfig run), and a boot script sharing it delayed the discover and the lease by ~70
# ms; at the lowest priority it reads its library in the CPU time udhcpc leaves, while
# the offer and the ack travel; after its "go" nothing else runs beside it. init holds
# the FIFO open for reading and writing (fd 3), so neither side's open blocks and a boot
# script that ended early costs init nothing. EARLY_PID is the boot script's; false
# (EARLY_PID empty) when another boot script is configured or the FIFO cannot be made:
# that one starts after the lease, as always.
early_start() {
	EARLY_PID=
	[ "$PXE_BOOT_SCRIPT" = /sbin/pxeboot ] || return 1
	LEASE_FIFO=$PXE_STATE_DIR/lease.fifo
	# With pxeboot's work directory (pxeboot.sh's WORK): one mkdir process for both.
	[ -d "$PXE_STATE_DIR/files" ] || mkdir -p "$PXE_STATE_DIR/files" || return 1
	# With the FIFOs pxeboot's transfer_prepare would make in its WORK (the ticker's and
	# curl's), so that it starts no mkfifo of its own: one process for the three.
	[ -p "$LEASE_FIFO" ] || mkfifo -m 0600 "$LEASE_FIFO" "$PXE_STATE_DIR/files/ticker.fifo" \
		"$PXE_STATE_DIR/files/curl.fifo" 2>/dev/null
	[ -p "$LEASE_FIFO" ] || return 1
	# `command`: a failed redirection of exec would end the shell, PID 1.
	command exec 3<>"$LEASE_FIFO" || return 1
	# The console stays its input (an asynchronous command's is /dev/null otherwise).
	sh "$PXE_ROOT$PXE_BOOT_SCRIPT" --after-lease "$LEASE_FIFO" <&4 3>&- 4<&- &
	EARLY_PID=$!
	renice 19 -p "$EARLY_PID" >/dev/null 2>&1
}

# early_go WORD: tells the early boot script WORD (go, stop), waits for it to end and
# returns its status; only then closes init's end of the FIFO. A word written to a FIFO
# is lost when the last process holding it open closes it, and the boot script may not
# have opened it yet (a static address is set up faster than it reads its library): it
# would then wait for a writer for ever.
early_go() {
	local rc
	echo "$1" >&3
	wait "$EARLY_PID"
	rc=$?
	exec 3>&-
	return "$rc"
}

boot() {
	local rc
	EARLY_PID=
	EARLY_WANTED=1
	net
	rc=$?
	EARLY_WANTED=
	if [ "$rc" != 0 ]; then
		[ -z "$EARLY_PID" ] || early_go stop
		return 1
	fi
	if [ -n "$EARLY_PID" ]; then
		early_go go
	else
		sh "$PXE_ROOT$PXE_BOOT_SCRIPT"
	fi
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

# lease_reboot_time: DHCP option 211 of the lease (seconds), empty when it had none.
lease_reboot_time() {
	sed -n "s/^reboottime='\([0-9]*\)'\$/\1/p" "$PXE_STATE_DIR/dhcp.env" 2>/dev/null
}

after_failure() {
	local reboot
	echo "init: boot failed: $FAILURE"
	reboot=$(lease_reboot_time)
	# With nobody at the console, option 211 says when to start over, as syslinux
	# reboots after it (0: never).
	case $PXE_ON_FAILURE:$reboot in
	retry:0 | poweroff:0)
		echo "init: DHCP option 211 (reboot time) is 0: staying here"
		while :; do sleep 3600; done
		;;
	retry:?* | poweroff:?*)
		echo "init: starting over in $reboot s (DHCP option 211, reboot time)"
		sleep "$reboot"
		return 0
		;;
	esac
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
