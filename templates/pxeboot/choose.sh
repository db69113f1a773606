# shellcheck shell=dash
# choose.sh: what to boot from a parsed configuration, and the entry it makes.
#
# Exports: choose_unattended   what syslinux boots when nobody touches the keyboard; sets
#                              CHOICE (a command line: a label or kernel name, then words)
#                              and CHOICE_FROM (why, for the messages);
#          entry_build CHOICE  turns a command line into the entry to boot, as syslinux's
#                              record() and load_kernel() build it; sets ENTRY_LABEL (empty
#                              when the first word is no label), ENTRY_TYPE (kernel, linux,
#                              config, com32, ...), ENTRY_KERNEL, ENTRY_KARGS (the words
#                              after the KERNEL file name) and ENTRY_LINE (the kernel's
#                              arguments with initrd= still inside);
#          entry_split         ENTRY_LINE -> APPEND_LINE (initrd= words removed) and INITRDS
#                              (the comma list of the last initrd=, the effective one);
#          sysappend BITS      prints the IPAPPEND/SYSAPPEND strings for BITS.
# Reads:   config.sh's accessors, CONFIG_NAME, CLIENT_IP SERVER GATEWAY NETMASK MAC UUID.
# A prompt or menu sets CHOICE itself and then calls entry_build.

# With a menu (UI, or DEFAULT naming a .c32 module) or a PROMPT, the timeout fires:
# ONTIMEOUT, else the default entry; without them, DEFAULT at once. When that names
# nothing, ONTIMEOUT, the MENU DEFAULT label, then the first LABEL.
choose_unattended() {
	local default ontimeout first menu=0 menudefault count
	default=$(config_get default)
	ontimeout=$(config_get ontimeout)
	count=$(label_count)
	first=${default%%[ 	]*}
	if [ -n "$(config_get ui)" ]; then
		menu=1
	else
		case $first in *.c32 | *.C32) label_find "$first" >/dev/null || menu=1 ;; esac
	fi
	menudefault=$(label_menu_default)
	if [ "$menu" = 1 ]; then
		if [ -n "$ontimeout" ]; then
			CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (menu timeout)"
		elif [ -n "$first" ] && label_find "$first" >/dev/null; then
			CHOICE=$first CHOICE_FROM="DEFAULT (menu default)"
		elif [ -n "$menudefault" ]; then
			CHOICE=$menudefault CHOICE_FROM="MENU DEFAULT"
		elif [ "$count" -ge 1 ]; then
			CHOICE=$(label_get 1 name) CHOICE_FROM="first LABEL (menu)"
		else
			die "configuration $CONFIG_NAME has a menu but no LABEL to boot"
		fi
		return 0
	fi
	if [ "$(config_get prompt)" != 0 ] && [ -n "$ontimeout" ]; then
		CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (prompt timeout)"
	elif [ -n "$default" ]; then
		CHOICE=$default CHOICE_FROM="DEFAULT"
	elif [ -n "$ontimeout" ]; then
		CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (no DEFAULT)"
	elif [ -n "$menudefault" ]; then
		CHOICE=$menudefault CHOICE_FROM="MENU DEFAULT (no DEFAULT)"
	elif [ "$count" -ge 1 ]; then
		CHOICE=$(label_get 1 name) CHOICE_FROM="first LABEL (no DEFAULT)"
	else
		die "configuration $CONFIG_NAME has neither DEFAULT nor any LABEL"
	fi
}

sysappend() {
	local out=
	if [ $(($1 & 1)) -ne 0 ] && [ -n "$CLIENT_IP" ]; then
		out="$out ip=$CLIENT_IP:$SERVER:${GATEWAY:-0.0.0.0}:${NETMASK:-0.0.0.0}"
	fi
	if [ $(($1 & 2)) -ne 0 ] && [ -n "$MAC" ]; then
		out="$out BOOTIF=01-$MAC"
	fi
	if [ $(($1 & 4)) -ne 0 ] && [ -n "$UUID" ]; then
		out="$out SYSUUID=$UUID"
	fi
	echo "$out"
}

entry_build() {
	local first=${1%%[ 	]*} args='' index kernel append ipappend initrd
	case $1 in *[\ \	]*) args=${1#*[ 	]} ;; esac
	if index=$(label_find "$first"); then
		ENTRY_LABEL=$first
		ENTRY_TYPE=$(label_get "$index" type)
		kernel=$(label_get "$index" kernel)
		if [ "$(label_get "$index" hasappend)" = 1 ]; then
			append=$(label_get "$index" append)
		else
			append=$(config_get append)
		fi
		initrd=$(label_get "$index" initrd)
		ipappend=$(label_get "$index" ipappend)
	else
		# Not a label: syslinux boots it as a kernel name with arguments, after the global
		# APPEND and with the global IPAPPEND.
		ENTRY_LABEL=
		ENTRY_TYPE=kernel
		kernel=$first
		append=$(config_get append)
		initrd=
		ipappend=$(config_get ipappend)
	fi
	[ "$append" = "-" ] && append=
	ENTRY_KERNEL=${kernel%%[ 	]*}
	ENTRY_KARGS=
	case $kernel in *[\ \	]*) ENTRY_KARGS=${kernel#*[ 	]} ;; esac
	ENTRY_LINE="$ENTRY_KARGS $append"
	[ -n "$initrd" ] && ENTRY_LINE="$ENTRY_LINE initrd=${initrd%%[ 	]*}"
	ENTRY_LINE="$ENTRY_LINE$(sysappend "$ipappend") $args"
	if [ "$ENTRY_TYPE" = kernel ]; then
		case $ENTRY_KERNEL in
		*.c32) ENTRY_TYPE=com32 ;;
		*.0) ENTRY_TYPE=pxe ;;
		*.bin | *.bs) ENTRY_TYPE=boot ;;
		*.bss) ENTRY_TYPE=bss ;;
		*.img) ENTRY_TYPE=fdimage ;;
		esac
	fi
}

entry_split() {
	local word
	APPEND_LINE='' INITRDS=''
	# shellcheck disable=SC2086 # the words of the line; globbing is off
	for word in $ENTRY_LINE; do
		case $word in
		initrd=*) INITRDS=${word#initrd=} ;;
		*) APPEND_LINE="${APPEND_LINE:+$APPEND_LINE }$word" ;;
		esac
	done
}
