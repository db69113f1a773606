#!/bin/sh
# DHCP event script of the composer PXELINUX image: configures the interface, the routes
# and resolv.conf from the lease, and records the DHCP facts for pxeboot in
# $PXE_STATE_DIR/dhcp.env as shell assignments, each value single-quoted.
# udhcpc runs it as: SCRIPT deconfig|bound|renew|leasefail|nak, with the lease in the
# environment (ip subnet mask router dns domain siaddr serverid tftp bootfile boot_file
# pxeconffile pxepathprefix ...). dhcpcd, the DHCPv6 client, runs it without arguments,
# the event in $reason (BOUND6, INFORM6 ...) and the lease as new_dhcp6_* variables; it
# has configured the addresses (DHCPv6 and SLAAC) and routes itself, so only resolv.conf
# and the facts are left (family=6, ip6, bootfile_url: option 59, dns, search). /init
# runs it as SCRIPT bound (IPv4) or SCRIPT static6 for a static ip= address, with the
# same names (ip or ip6, mask as a prefix length, router, dns, siaddr: ip='s server).
#
# Installed as ROOT/etc/udhcpc/default.script, it reads ROOT/etc/pxeboot.conf and
# ROOT/lib/pxeboot/common.sh. Copied by composer from bootscripts/udhcpc.script.sh; POSIX sh.

# The lease arrives as udhcpc's environment (ip, router, mask ...), unseen by shellcheck.
# shellcheck disable=SC2154

# deconfig comes before every first lease, and udhcpc sends nothing until it returns:
# when all is as it should be already (the interface up, no address of ours on it, no
# lease recorded: the usual boot, init exported PXE_STATE_DIR), done before this script
# reads anything more. Any other case takes the whole way below.
if [ "${1-}" = deconfig ] && [ -n "${PXE_STATE_DIR-}" ] && [ -n "${interface-}" ] &&
	[ ! -e "$PXE_STATE_DIR/ipv4.$interface" ] && [ ! -e "$PXE_STATE_DIR/dhcp.env" ] &&
	[ -r "/sys/class/net/$interface/flags" ] && read -r flags <"/sys/class/net/$interface/flags"; then
	case $flags in
	0x*) [ $((flags & 1)) = 1 ] && exit 0 ;;
	esac
fi

# dhcpcd runs this script at each of its events (PREINIT, CARRIER, ROUTERADVERT,
# STOPPED ...); only a lease's are of use here, and the others are done before this
# script reads anything (each would cost its sourcing, ~0.1 s under TCG, while dhcpcd
# works for the lease; `dhcpcd -d`, verbosity 2, logs every event itself).
if [ $# = 0 ] && [ -n "${reason-}" ]; then
	case $reason in
	BOUND6 | RENEW6 | REBIND6 | REBOOT6 | INFORM6) ;;
	*) exit 0 ;;
	esac
fi

# init exports PXE_ROOT; run by hand, the script finds the root from its own path.
if [ -z "${PXE_ROOT+set}" ]; then
	case $0 in
	*/etc/udhcpc/*) PXE_ROOT=${0%/etc/udhcpc/*} ;;
	*/*) PXE_ROOT=${0%/*}/../.. ;;
	*) PXE_ROOT=../.. ;;
	esac
fi
PXE_TAG=udhcpc
if [ ! -r "$PXE_ROOT/etc/pxeboot.conf" ]; then
	echo "udhcpc: error: no $PXE_ROOT/etc/pxeboot.conf for $0" >&2
	exit 1
fi
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=etc/pxeboot.conf
. "$PXE_ROOT/etc/pxeboot.conf"
# shellcheck source=lib/pxeboot/common.sh
. "$PXE_ROOT/lib/pxeboot/common.sh"

PXE_DMI_UUID=${PXE_DMI_UUID:-/sys/class/dmi/id/product_uuid}
PXE_SYSINFO=${PXE_SYSINFO:-/proc/sysinfo}

set -f
# 1: files are written as temporary ones and renamed (dhcpcd_event).
RENAME=0

# shq_set VALUE: VALUE as one single-quoted shell word in SHQ, safe to source whatever it
# contains (each ' as '\''), built by the shell: no process per fact.
SQ="'"
shq_set() {
	local rest=$1 out=''
	while :; do
		case $rest in
		*"$SQ"*)
			out="$out${rest%%"$SQ"*}'\\''"
			rest=${rest#*"$SQ"}
			;;
		*) break ;;
		esac
	done
	SHQ="'$out$rest'"
}

# The facts pxeboot reads: DHCP options under udhcpc's names, plus the interface's MAC
# address and the machine UUID (SMBIOS where there is one, else s390's STSI 3.2.2).
FACTS="interface family ip ip6 subnet mask broadcast router dns domain search hostname lease \
siaddr serverid tftp bootfile boot_file bootfile_url sname pxeconffile pxepathprefix \
reboottime mac uuid"
# reboottime is DHCP option 211 (RFC 5071, seconds), which udhcpc names itself when
# init asks for it (-O 211).

# machine_uuid: the machine UUID into uuid (empty when there is none). /proc/sysinfo
# (about 40 lines) is searched by one sed: the shell's read takes it a byte per system
# call, ~35 ms under TCG against ~7 ms for the sed.
machine_uuid() {
	uuid=''
	if [ -r "$PXE_DMI_UUID" ]; then
		read -r uuid <"$PXE_DMI_UUID"
	elif [ -r "$PXE_SYSINFO" ]; then
		# shellcheck disable=SC2034 # read through $FACTS
		uuid=$(sed -n '/^VM00 UUID:/{
s/^VM00 UUID:[ 	]*//
p
q
}' "$PXE_SYSINFO")
	fi
	return 0
}

# record_facts: dhcp.env, written whole. dhcpcd runs on while /init polls for the file,
# so its events write a temporary file and rename it; udhcpc has ended before /init
# reads it: its events write the file itself (no mv process).
record_facts() {
	local name value tmp="$PXE_STATE_DIR/dhcp.env.tmp"
	[ "$RENAME" = 1 ] || tmp=$PXE_STATE_DIR/dhcp.env
	# shellcheck disable=SC2034 # mac and uuid are read through $FACTS below
	mac=''
	# shellcheck disable=SC2034 # read through $FACTS below
	[ -r "/sys/class/net/$interface/address" ] && read -r mac <"/sys/class/net/$interface/address"
	is_uint "${reboottime-}" || reboottime=
	machine_uuid
	[ -d "$PXE_STATE_DIR" ] || mkdir -p "$PXE_STATE_DIR" || return 1
	{
		for name in $FACTS; do
			eval "value=\${$name-}"
			[ -n "$value" ] || continue
			shq_set "$value"
			printf '%s=%s\n' "$name" "$SHQ"
		done
	} >"$tmp" || {
		rm -f "$tmp"
		return 1
	}
	[ "$tmp" = "$PXE_STATE_DIR/dhcp.env" ] || mv "$tmp" "$PXE_STATE_DIR/dhcp.env"
}

# ipv4_mark 0|1: whether this script has put an IPv4 address on the interface (a file in
# PXE_STATE_DIR), so that deconfig, run before every first lease, flushes only then.
ipv4_mark() { echo "$1" >"$PXE_STATE_DIR/ipv4.$interface" 2>/dev/null; }

ipv4_marked() {
	local mark=1
	[ -r "$PXE_STATE_DIR/ipv4.$interface" ] || return 1
	read -r mark <"$PXE_STATE_DIR/ipv4.$interface"
	[ "$mark" != 0 ]
}

# configure_address: the lease's address on the interface. An address (and with it the
# routes through the interface) of an earlier lease goes first; when this script put none
# there (deconfig flushed it, or there never was one), no flush process.
configure_address() {
	local bits=${mask:-32}
	HAD_IPV4=0
	if ipv4_marked; then
		HAD_IPV4=1
		ip -4 addr flush dev "$interface"
	fi
	# The mark goes where the facts go (/init makes the directory before DHCP).
	[ -d "$PXE_STATE_DIR" ] || mkdir -p "$PXE_STATE_DIR"
	ipv4_mark 1
	if [ -n "$broadcast" ]; then
		ip addr add "$ip/$bits" broadcast "$broadcast" dev "$interface"
	else
		ip addr add "$ip/$bits" dev "$interface"
	fi || return 1
	[ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
	return 0
}

configure_routes() {
	local gw metric=0
	# Without an address of ours before, the kernel has no route through it either.
	if [ "$HAD_IPV4" = 1 ]; then
		while ip -4 route del default dev "$interface" 2>/dev/null; do :; done
	fi
	# RFC 3442: with classless static routes (option 121) the router option is ignored.
	if [ -n "$staticroutes" ]; then
		set -- $staticroutes
		while [ $# -ge 2 ]; do
			if [ "$2" = 0.0.0.0 ]; then
				ip route add "$1" dev "$interface"
			else
				ip route add "$1" via "$2" dev "$interface"
			fi || warn "cannot add route $1 via $2"
			shift 2
		done
		return 0
	fi
	for gw in $router; do
		# Without a subnet mask the gateway is reached by a host route.
		[ -n "$mask" ] || ip route add "$gw" dev "$interface" 2>/dev/null
		ip route add default via "$gw" dev "$interface" metric "$metric" ||
			warn "cannot add default route via $gw"
		metric=$((metric + 1))
	done
}

# write_resolv_conf: the name servers; as dhcp.env, through a renamed temporary file
# only for dhcpcd, which runs on while the boot goes on.
write_resolv_conf() {
	local server tmp="$PXE_RESOLV_CONF.tmp"
	[ -n "$dns" ] || return 0
	[ "$RENAME" = 1 ] || tmp=$PXE_RESOLV_CONF
	case $PXE_RESOLV_CONF in
	?*/*) [ -d "${PXE_RESOLV_CONF%/*}" ] || mkdir -p "${PXE_RESOLV_CONF%/*}" ;;
	esac
	{
		if [ -n "$search" ]; then
			echo "search $search"
		elif [ -n "$domain" ]; then
			echo "search $domain"
		fi
		for server in $dns; do
			echo "nameserver $server"
		done
	} >"$tmp" && { [ "$tmp" = "$PXE_RESOLV_CONF" ] || mv "$tmp" "$PXE_RESOLV_CONF"; }
}

# global_ipv6 IFACE: the interface's first global IPv6 address (SLAAC's, without DHCPv6).
global_ipv6() {
	ip -6 -o addr show dev "$1" scope global 2>/dev/null |
		sed -n 's|.* inet6 \([0-9a-fA-F:]*\)/.*|\1|p' | head -n 1
}

# wait_dad: a new IPv6 address is "tentative" (unusable) until duplicate address
# detection ends, about a second; wait up to 5 s for that.
wait_dad() {
	local ticks=0
	while ip -6 addr show dev "$interface" 2>/dev/null | grep -q tentative && [ "$ticks" -lt 25 ]; do
		sleep 0.2
		ticks=$((ticks + 1))
	done
}

# dhcpcd_event: a DHCPv6 event from dhcpcd ($reason, new_dhcp6_*).
dhcpcd_event() {
	PXE_TAG=dhcpcd RENAME=1
	# dhcpcd's standard error is init's file of dhcpcd's own messages (shown when it has
	# stopped): this script's lines go to its standard output, the console, at once.
	exec 2>&1
	# shellcheck disable=SC2034 # read through $FACTS
	family=6 bootfile_url=${new_dhcp6_bootfile_url-} ip=''
	ip6=${new_dhcp6_ia_na1_ia_addr1:-$(global_ipv6 "$interface")}
	dns=${new_dhcp6_name_servers-} search=${new_dhcp6_domain_search-}
	say "$reason: $interface ${ip6:-(no global address)}${bootfile_url:+, boot file URL $bootfile_url}"
	write_resolv_conf || warn "cannot write $PXE_RESOLV_CONF"
	record_facts || { warn "cannot record the lease in $PXE_STATE_DIR/dhcp.env"; exit 1; }
	# Wakes init (dhcp6), which holds the FIFO open while it waits and removes it before
	# it lets go: no FIFO, no word (an open without a reader would block).
	[ ! -p "$PXE_STATE_DIR/dhcp6.fifo" ] || echo "$reason" >"$PXE_STATE_DIR/dhcp6.fifo"
	exit 0
}

[ -n "$interface" ] || { warn "no \$interface: this script is run by udhcpc or dhcpcd"; exit 1; }
[ $# = 0 ] && [ -n "${reason-}" ] && dhcpcd_event

case $1 in
deconfig)
	# udhcpc's first event, before any lease: no process for what is so already (the
	# interface up, no address of ours on it, no facts recorded).
	nic_up "$interface"
	if ipv4_marked; then
		ip -4 addr flush dev "$interface"
		ipv4_mark 0
	fi
	[ ! -e "$PXE_STATE_DIR/dhcp.env" ] || rm -f "$PXE_STATE_DIR/dhcp.env"
	;;
bound | renew)
	say "$1: $interface $ip/${mask:-32}${router:+ router $router}, server ${serverid:-?}"
	# shellcheck disable=SC2034 # read through $FACTS
	family=4
	configure_address || { warn "cannot configure $ip on $interface"; exit 1; }
	configure_routes
	write_resolv_conf || warn "cannot write $PXE_RESOLV_CONF"
	record_facts || { warn "cannot record the lease in $PXE_STATE_DIR/dhcp.env"; exit 1; }
	;;
static6)
	# /init's ip=[ADDR]:...:none: the same facts as a lease, without DHCP. The kernel
	# hands the ip= parameter itself to /init as the variable ip: not a fact here.
	ip=''
	say "static: $interface $ip6/${mask:-64}${router:+ router $router}"
	ip -6 addr add "$ip6/${mask:-64}" dev "$interface" || { warn "cannot configure $ip6 on $interface"; exit 1; }
	wait_dad
	[ -z "$router" ] || ip -6 route add default via "$router" dev "$interface" ||
		warn "cannot add default route via $router"
	# shellcheck disable=SC2034 # read through $FACTS
	family=6
	write_resolv_conf || warn "cannot write $PXE_RESOLV_CONF"
	record_facts || { warn "cannot record the address in $PXE_STATE_DIR/dhcp.env"; exit 1; }
	;;
leasefail | nak)
	say "$1 on $interface${message:+: $message}"
	;;
esac
exit 0
