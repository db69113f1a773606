# shellcheck shell=dash
# facts.sh: the DHCP facts the boot works from, and what follows from them.
#
# Exports: facts_read_lease  sources $PXE_STATE_DIR/dhcp.env (what the udhcpc event
#                            script recorded), after unsetting every fact name, so that
#                            boot parameters in the environment cannot pose as DHCP facts;
#          facts_derive      sets the derived facts below from udhcpc's names (tftp siaddr
#                            serverid bootfile boot_file pxepathprefix ip subnet router mac
#                            uuid) or a DHCPv6 lease's (bootfile_url: option 59, ip6), or
#                            dies when they make no boot possible;
#          ip_hex, mac_dashes (pure: print their result); ip_hex_set (HEX),
#          mac_dashes_set (MAC_DASHES), hex_digit (DIGIT): the same answers in
#          variables, without a subshell (hex_lower_set is common.sh's).
# Sets:    SERVER SERVER_FROM (the TFTP server and why), PREFIX PREFIX_FROM (the path
#          prefix and why), CLIENT_IP IP_HEX MAC UUID GATEWAY NETMASK BOOTFILE. SERVER
#          is an IPv6 address in brackets ([fd77::1]) when it came from option 59.
#          pxeconffile (option 209) stays under its udhcpc name.
# Reads:   PXE_STATE_DIR, PXE_CMDLINE (/proc/cmdline), die and hex_lower_set (common.sh),
#          url.sh's url_is url_check url_host url_dir, and ipconfig_parse (ipconfig.sh) for
#          a command line naming pxeboot.* (pxeboot.sh reads that file only then).

# ip_hex A.B.C.D: the address as 8 upper-case hex digits (192.168.2.91 -> C0A8025B).
ip_hex() {
	ip_hex_set "$1" && echo "$HEX"
}

# ip_hex_set A.B.C.D: ip_hex's answer in HEX, in this shell (no process: under TCG each
# subshell costs milliseconds).
ip_hex_set() {
	local IFS=. octet
	HEX=
	# shellcheck disable=SC2086 # split at the dots, globbing is off
	set -- $1
	[ $# -eq 4 ] || return 1
	for octet; do
		is_uint "$octet" || return 1
		octet=${octet#"${octet%%[!0]*}"}
		octet=${octet:-0}
		[ "${#octet}" -le 3 ] && [ "$octet" -le 255 ] || return 1
		hex_digit $((octet / 16))
		HEX=$HEX$DIGIT
		hex_digit $((octet % 16))
		HEX=$HEX$DIGIT
	done
}

# hex_digit N: the upper-case hex digit of 0 <= N <= 15 in DIGIT.
hex_digit() {
	case $1 in
	10) DIGIT=A ;;
	11) DIGIT=B ;;
	12) DIGIT=C ;;
	13) DIGIT=D ;;
	14) DIGIT=E ;;
	15) DIGIT=F ;;
	*) DIGIT=$1 ;;
	esac
}

# mac_dashes MAC: lower case, dash separated (88:99:AA:BB:CC:DD -> 88-99-aa-bb-cc-dd).
mac_dashes() {
	mac_dashes_set "$1" && echo "$MAC_DASHES"
}

# mac_dashes_set MAC: mac_dashes's answer in MAC_DASHES, in this shell.
mac_dashes_set() {
	MAC_DASHES=
	[ "${#1}" = 17 ] || return 1
	hex_lower_set "$1" dashes
	case $LOWER in
	[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]-[0-9a-f][0-9a-f]) MAC_DASHES=$LOWER ;;
	*) return 1 ;;
	esac
}

facts_read_lease() {
	local cmdline
	[ -r "$PXE_STATE_DIR/dhcp.env" ] ||
		die "no DHCP facts in $PXE_STATE_DIR/dhcp.env: the udhcpc event script did not record a lease"
	unset tftp siaddr serverid bootfile boot_file pxeconffile pxepathprefix ip subnet router mac uuid \
		family ip6 bootfile_url pxeboot_config pxeboot_server
	# shellcheck source=/dev/null # written by the udhcpc event script at boot
	. "$PXE_STATE_DIR/dhcp.env"
	# pxeboot.config= and pxeboot.server= from the command line (ipconfig.sh; /init
	# has refused a malformed one already). Without "pxeboot." in it both stay empty, and
	# pxeboot.sh never reads ipconfig.sh.
	pxeboot_config='' pxeboot_server=''
	cmdline=''
	[ -r "${PXE_CMDLINE:-/proc/cmdline}" ] && IFS= read -r cmdline <"${PXE_CMDLINE:-/proc/cmdline}"
	case $cmdline in
	*pxeboot.*)
		if ipconfig_parse "$cmdline"; then
			pxeboot_config=$IPC_CONFIG pxeboot_server=$IPC_BOOT_SERVER
		fi
		;;
	esac
}

# udhcpc's names come from dhcp.env or, in a dry run, the environment.
# shellcheck disable=SC2154
facts_derive() {
	# pxeboot.config= names the config file as option 209 would, and wins over it.
	[ -n "${pxeboot_config-}" ] && pxeconffile=$pxeboot_config
	# TFTP server: pxeboot.server=, option 66, else the BOOTP next-server (siaddr, or
	# ip='s server field), else the DHCP server; over DHCPv6 the host of option 59's URL
	# (RFC 5970), the only server it names; without any, the host of pxeboot.config='s URL.
	if [ -n "${pxeboot_server-}" ]; then
		SERVER=$pxeboot_server SERVER_FROM="pxeboot.server="
	elif [ -n "${bootfile_url-}" ] && [ -z "$tftp$siaddr" ]; then
		url_is "$bootfile_url" ||
			die "DHCPv6 option 59 (bootfile-url) '$bootfile_url' is not a URL"
		problem=$(url_check "$bootfile_url")
		[ -z "$problem" ] || die "DHCPv6 option 59 (bootfile-url) '$bootfile_url' $problem"
		SERVER=$(url_host "$bootfile_url") SERVER_FROM="DHCPv6 option 59 (bootfile-url)"
	elif [ -n "$tftp" ]; then
		SERVER=$tftp SERVER_FROM="option 66 (tftp)"
	elif [ -n "$siaddr" ]; then
		SERVER=$siaddr SERVER_FROM="siaddr"
	elif [ -n "$serverid" ]; then
		SERVER=$serverid SERVER_FROM="option 54 (serverid)"
	elif url_is "$pxeconffile"; then
		SERVER=$(url_host "$pxeconffile") SERVER_FROM="pxeboot.config='s URL"
	else
		die "no TFTP server: DHCP gave neither option 66 (tftp), siaddr nor a server id," \
			"DHCPv6 no option 59 (bootfile-url), and there is no pxeboot.server="
	fi
	# An IPv6 server stands in brackets, as in URLs: [fd77::1]::path.
	case $SERVER in
	\[*) ;;
	*:*) SERVER="[$SERVER]" ;;
	esac

	# Path prefix: option 210 verbatim, else the boot file's directory (with its slash).
	# petitboot: without option 210, names in a config given as a URL by option 209
	# resolve in that URL's directory.
	BOOTFILE=${bootfile:-${boot_file:-${bootfile_url-}}}
	if [ -n "$pxepathprefix" ]; then
		PREFIX=$pxepathprefix PREFIX_FROM="option 210 (pxepathprefix)"
	elif url_is "$pxeconffile"; then
		PREFIX=$(url_dir "$pxeconffile") PREFIX_FROM="option 209 (pxeconffile) as a URL"
	elif url_is "$BOOTFILE"; then
		PREFIX=$(url_dir "$BOOTFILE") PREFIX_FROM="boot file URL '$BOOTFILE'"
	else
		case $BOOTFILE in
		*/*) PREFIX=${BOOTFILE%/*}/ ;;
		*) PREFIX= ;;
		esac
		PREFIX_FROM="boot file '$BOOTFILE'"
	fi
	if url_is "$PREFIX"; then
		problem=$(url_check "$PREFIX")
		[ -z "$problem" ] || die "path prefix '$PREFIX' (from $PREFIX_FROM) $problem"
	fi

	# Over IPv6 the client address has no hex form: the lookup goes from 01-MAC to default.
	CLIENT_IP=${ip:-${ip6-}}
	IP_HEX=
	if [ -n "$ip" ]; then
		ip_hex_set "$ip" || die "client address '$ip' is not an IPv4 address"
		IP_HEX=$HEX
	fi
	MAC=
	if [ -n "$mac" ]; then
		mac_dashes_set "$mac" || die "MAC address '$mac' is not six hex bytes"
		MAC=$MAC_DASHES
	fi
	hex_lower_set "$uuid"
	UUID=$LOWER
	GATEWAY=${router%% *}
	NETMASK=$subnet
	say "TFTP server $SERVER (from $SERVER_FROM), path prefix '$PREFIX' (from $PREFIX_FROM)"
}
