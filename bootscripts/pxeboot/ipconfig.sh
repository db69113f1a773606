# shellcheck shell=dash
# ipconfig.sh: the network settings on the image's command line, parsed (pure functions).
#
# Debian's s390x kernel has no CONFIG_IP_PNP: `ip=` on the command line reaches /init in
# /proc/cmdline and nothing acted on it. /init follows dracut's syntax (dracut.cmdline(7)):
#   ip=dhcp | ip=on | ip=any          DHCPv4 (then the image's usual DHCP)
#   ip=dhcp6 | ip=auto6               DHCPv6 and SLAAC only
#   ip=IFACE:dhcp | ip=IFACE:dhcp6    the same on one interface
#   ip=CLIENT:[SERVER]:[GW]:NETMASK:[HOSTNAME]:[IFACE]:none[:[DNS1][:[DNS2]]]
#                                     a static address, no DHCP ("off" and "static" are
#                                     "none" too; :MTU[:MAC] may stand for the DNS pair);
#                                     IPv6 addresses in brackets, the netmask then a
#                                     prefix length: ip=[fd77::50]::[fd77::1]:64::eth0:none
#   vlan=NAME:PARENT                  a tagged VLAN on PARENT; NAME gives the id as
#                                     vlan0010, vlan10, eth0.0010 or eth0.10 (1..4094)
# and parameters of our own, which win over what DHCP says:
#   pxeboot.config=URL-or-NAME        the PXELINUX config (as DHCP option 209 would)
#   pxeboot.server=HOST               the boot server (as option 66 would)
#   pxeboot.dns=ADDR[,ADDR]           the name servers
#
# Exports: ipconfig_parse CMDLINE  sets the IPC_* variables from the words of CMDLINE;
#                                  false, with IPC_ERROR (a sentence naming the
#                                  parameter), when a value is malformed;
#          ipconfig_show           prints the IPC_* variables as NAME=VALUE lines;
#          is_ipv4 A, is_ipv6 A    true when A is such an address (no brackets);
#          prefix_bits FAMILY MASK prints the prefix length of MASK (255.255.255.0 or 24).
# Sets:    IPC_MODE (''/dhcp/dhcp6/static) IPC_FAMILY (4/6 for static) IPC_ADDR IPC_SERVER
#          IPC_GW IPC_BITS IPC_NETMASK (dotted, IPv4) IPC_HOSTNAME IPC_IFACE IPC_DNS (ip='s,
#          or pxeboot.dns='s, which is also IPC_PXE_DNS) IPC_MTU IPC_VLAN_NAME
#          IPC_VLAN_PARENT IPC_VLAN_ID IPC_CONFIG IPC_BOOT_SERVER ([v6] in brackets).
# Reads:   nothing but its arguments. Needs `set -f` (the caller's): words are data.

IPC_VARS="IPC_MODE IPC_FAMILY IPC_ADDR IPC_SERVER IPC_GW IPC_BITS IPC_NETMASK IPC_HOSTNAME \
IPC_IFACE IPC_DNS IPC_PXE_DNS IPC_MTU IPC_VLAN_NAME IPC_VLAN_PARENT IPC_VLAN_ID IPC_CONFIG \
IPC_BOOT_SERVER"

is_ipv4() {
	local IFS=. octet
	case $1 in *[!0-9.]* | '' | .* | *. | *..*) return 1 ;; esac
	# shellcheck disable=SC2086 # split at the dots, globbing is off
	set -- $1
	[ $# -eq 4 ] || return 1
	for octet; do
		[ ${#octet} -le 3 ] && [ "$octet" -le 255 ] || return 1
	done
}

is_ipv6() {
	local IFS=: group groups=0 rest
	case $1 in *[!0-9a-fA-F:]* | '' | *:::* | *::*::*) return 1 ;; *:*) ;; *) return 1 ;; esac
	case $1 in :[!:]* | *[!:]:) return 1 ;; esac
	rest=$1
	# shellcheck disable=SC2086 # split at the colons, globbing is off
	set -- $rest
	for group; do
		[ ${#group} -le 4 ] || return 1
		[ -n "$group" ] && groups=$((groups + 1))
	done
	case $rest in
	*::*) [ "$groups" -le 7 ] ;;
	*) [ "$groups" -eq 8 ] ;;
	esac
}

prefix_bits() {
	local IFS=. octet bits=0 ended=0
	if is_uint "$2"; then
		if [ "$1" = 4 ]; then bits=32; else bits=128; fi
		[ ${#2} -le 3 ] && [ "$2" -le "$bits" ] && echo "$2"
		return
	fi
	[ "$1" = 4 ] && is_ipv4 "$2" || return 1
	# shellcheck disable=SC2086 # split at the dots, globbing is off
	set -- $2
	for octet; do
		case $ended:$octet in
		0:255) bits=$((bits + 8)) ;;
		0:254 | 0:252 | 0:248 | 0:240 | 0:224 | 0:192 | 0:128 | 0:0)
			case $octet in
			254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;; 248) bits=$((bits + 5)) ;;
			240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;; 192) bits=$((bits + 2)) ;;
			128) bits=$((bits + 1)) ;;
			esac
			ended=1
			;;
		1:0) ;;
		*) return 1 ;;
		esac
	done
	echo "$bits"
}

# ipc_fields TEXT: splits TEXT at colons outside brackets into IPC_F1... (brackets
# removed), IPC_NF of them; false on a bracket left open or text after a closing one.
ipc_fields() {
	local rest=$1 n=0 field
	while :; do
		n=$((n + 1))
		case $rest in
		\[*)
			field=${rest%%]*}
			[ "$field" != "$rest" ] || return 1
			field=${field#?}
			rest=${rest#*]}
			case $rest in
			'') eval "IPC_F$n=\$field" && break ;;
			:*) rest=${rest#:} ;;
			*) return 1 ;;
			esac
			;;
		*)
			field=${rest%%:*}
			if [ "$field" = "$rest" ]; then
				eval "IPC_F$n=\$field"
				break
			fi
			rest=${rest#*:}
			;;
		esac
		eval "IPC_F$n=\$field"
	done
	IPC_NF=$n
}

# ipc_family ADDRESS: prints 4 or 6.
ipc_family() {
	if is_ipv4 "$1"; then echo 4; elif is_ipv6 "$1"; then echo 6; else return 1; fi
}

# shellcheck disable=SC2034 # the IPC_* results are read by init.sh and facts.sh
ipc_bad() {
	IPC_ERROR="$*"
	return 1
}

ipc_name_ok() {
	case $1 in *[!A-Za-z0-9._-]*) return 1 ;; esac
	[ ${#1} -le "$2" ]
}

# ipc_ip VALUE: one ip= parameter.
# shellcheck disable=SC2034 # the IPC_* results are read by init.sh and facts.sh
ipc_ip() {
	local what="ip=$1:" mode f
	case $1 in
	dhcp | on | any) IPC_MODE=dhcp && return 0 ;;
	dhcp6 | auto6) IPC_MODE=dhcp6 && return 0 ;;
	off | none | '') ipc_bad "$what leaves no network to boot from; give ip=dhcp, ip=dhcp6 or a static address" || return 1 ;;
	esac
	ipc_fields "$1" || ipc_bad "$what a '[' without its ']' (IPv6 addresses go in brackets: [fd77::50])" || return 1
	if [ "$IPC_NF" = 2 ]; then
		ipc_name_ok "$IPC_F1" 15 || ipc_bad "$what '$IPC_F1' is not an interface name" || return 1
		case $IPC_F2 in
		dhcp | on | any) IPC_MODE=dhcp ;;
		dhcp6 | auto6) IPC_MODE=dhcp6 ;;
		*) ipc_bad "$what '$IPC_F2' is not dhcp or dhcp6 (ip=IFACE:dhcp)" || return 1 ;;
		esac
		IPC_IFACE=$IPC_F1
		return 0
	fi
	[ "$IPC_NF" -ge 7 ] && [ "$IPC_NF" -le 9 ] ||
		ipc_bad "$what has $IPC_NF fields; a static address takes" \
			"CLIENT:[SERVER]:[GW]:NETMASK:[HOSTNAME]:[IFACE]:none[:DNS1[:DNS2]]" || return 1
	IPC_FAMILY=$(ipc_family "$IPC_F1") ||
		ipc_bad "$what client address '$IPC_F1' is not an IPv4 or IPv6 address" || return 1
	for f in "$IPC_F2" "$IPC_F3"; do
		[ -z "$f" ] || [ "$(ipc_family "$f")" = "$IPC_FAMILY" ] ||
			ipc_bad "$what '$f' is not an IPv$IPC_FAMILY address like the client's" || return 1
	done
	[ -n "$IPC_F4" ] || ipc_bad "$what gives no netmask (e.g. 255.255.255.0, 24, or 64 for IPv6)" || return 1
	IPC_BITS=$(prefix_bits "$IPC_FAMILY" "$IPC_F4") ||
		ipc_bad "$what '$IPC_F4' is not a netmask or prefix length for IPv$IPC_FAMILY" || return 1
	IPC_NETMASK=
	[ "$IPC_FAMILY" = 4 ] && is_ipv4 "$IPC_F4" && IPC_NETMASK=$IPC_F4
	ipc_name_ok "$IPC_F5" 64 || ipc_bad "$what '$IPC_F5' is not a host name" || return 1
	ipc_name_ok "$IPC_F6" 15 || ipc_bad "$what '$IPC_F6' is not an interface name" || return 1
	case $IPC_F7 in
	none | off | static | '') mode=static ;;
	dhcp | on | any) mode=dhcp ;;
	dhcp6 | auto6) mode=dhcp6 ;;
	*) ipc_bad "$what '$IPC_F7' is not none, dhcp or dhcp6" || return 1 ;;
	esac
	IPC_MODE=$mode IPC_ADDR=$IPC_F1 IPC_SERVER=$IPC_F2 IPC_GW=$IPC_F3 IPC_HOSTNAME=$IPC_F5
	IPC_IFACE=$IPC_F6 IPC_DNS='' IPC_MTU=''
	if [ "$IPC_NF" -ge 8 ] && is_uint "$IPC_F8"; then
		IPC_MTU=$IPC_F8 # dracut's :MTU[:MAC] form
	else
		for f in "${IPC_F8-}" "${IPC_F9-}"; do
			[ -z "$f" ] && continue
			ipc_family "$f" >/dev/null || ipc_bad "$what name server '$f' is not an address" || return 1
			IPC_DNS="${IPC_DNS:+$IPC_DNS }$f"
		done
	fi
}

# ipc_vlan VALUE: one vlan= parameter.
# shellcheck disable=SC2034 # the IPC_* results are read by init.sh and facts.sh
ipc_vlan() {
	local name=${1%%:*} parent=${1#*:} id
	case $1 in
	*:*) ;;
	*) ipc_bad "vlan=$1: not NAME:PARENT (e.g. vlan=eth0.10:eth0)" || return 1 ;;
	esac
	ipc_name_ok "$name" 15 && [ -n "$name" ] || ipc_bad "vlan=$1: '$name' is not an interface name" || return 1
	ipc_name_ok "$parent" 15 && [ -n "$parent" ] || ipc_bad "vlan=$1: '$parent' is not an interface name" || return 1
	case $name in
	vlan*) id=${name#vlan} ;;
	*.*) id=${name##*.} ;;
	*) id= ;;
	esac
	id=${id#"${id%%[!0]*}"}
	is_uint "$id" && [ "$id" -ge 1 ] && [ "$id" -le 4094 ] ||
		ipc_bad "vlan=$1: the name '$name' gives no VLAN id 1..4094 (vlan0010, vlan10, $parent.10)" || return 1
	IPC_VLAN_NAME=$name IPC_VLAN_PARENT=$parent IPC_VLAN_ID=$id
}

# shellcheck disable=SC2034 # the IPC_* results are read by init.sh and facts.sh
ipconfig_parse() {
	local word value dns=
	for value in $IPC_VARS; do eval "$value="; done
	IPC_ERROR=
	for word in $1; do
		value=${word#*=}
		case $word in
		ip=*) ipc_ip "$value" || return 1 ;;
		vlan=*) ipc_vlan "$value" || return 1 ;;
		pxeboot.config=*)
			[ -n "$value" ] || ipc_bad "pxeboot.config= names no file" || return 1
			IPC_CONFIG=$value
			;;
		pxeboot.server=*)
			value=${value#\[}
			value=${value%]}
			if is_ipv6 "$value"; then
				value="[$value]"
			elif ! ipc_name_ok "$value" 253 || [ -z "$value" ]; then
				ipc_bad "pxeboot.server=$value: not a host name or address" || return 1
			fi
			IPC_BOOT_SERVER=$value
			;;
		pxeboot.dns=*)
			dns=
			for value in $(echo "$value" | tr ',' ' '); do
				ipc_family "$value" >/dev/null ||
					ipc_bad "pxeboot.dns=: '$value' is not an IPv4 or IPv6 address" || return 1
				dns="${dns:+$dns }$value"
			done
			[ -n "$dns" ] || ipc_bad "pxeboot.dns= names no name server" || return 1
			;;
		esac
	done
	[ -n "$dns" ] && IPC_DNS=$dns IPC_PXE_DNS=$dns
	if [ -n "$IPC_VLAN_NAME" ] && [ -n "$IPC_IFACE" ] && [ "$IPC_IFACE" != "$IPC_VLAN_NAME" ]; then
		ipc_bad "ip= names interface $IPC_IFACE but vlan= makes $IPC_VLAN_NAME: DHCP and" \
			"the boot run on the VLAN interface" || return 1
	fi
	return 0
}

ipconfig_show() {
	local name value
	for name in $IPC_VARS; do
		eval "value=\${$name-}"
		printf '%s=%s\n' "$name" "$value"
	done
}
