# shellcheck shell=dash
# choose.sh: what to boot from a parsed configuration, and the entry it makes.
#
# Exports: choose_unattended   what syslinux boots when nobody touches the keyboard; sets
#                              CHOICE (a command line: a label or kernel name, then words),
#                              CHOICE_LABEL (the index of the label chosen as an entry, as
#                              a menu's default or first entry; empty when CHOICE is a
#                              command line to look up) and CHOICE_FROM (why, for messages);
#          entry_build CMDLINE turns a command line into the entry to boot, as syslinux's
#                              record() and unlabel() build it: its first word is looked up
#                              as a label name, the rest is appended;
#          entry_build_label INDEX [ARGS]  the same for label INDEX itself (a menu entry);
#                              both set ENTRY_LABEL (empty when the first word
#                              is no label), ENTRY_TYPE (kernel, linux, config, com32, ...),
#                              ENTRY_KERNEL, ENTRY_KARGS (the words after the KERNEL file
#                              name) and ENTRY_LINE (the kernel's arguments, initrd= inside);
#          entry_split         ENTRY_LINE -> APPEND_LINE, the kernel's command line as
#                              syslinux 6 makes it: BOOT_IMAGE=KERNEL first, initrd= kept;
#          entry_initrds       INITRDS: the comma list after the first initrd= of
#                              APPEND_LINE (syslinux's strstr);
#          sysappend BITS      prints the IPAPPEND/SYSAPPEND strings for BITS
#                              (sysappend_set: in SYSAPPEND);
#          trimmed TEXT        prints TEXT without leading and trailing blanks
#                              (trimmed_set VAR TEXT: into VAR).
# Reads:   config.sh's accessors, CONFIG_NAME, CLIENT_IP SERVER GATEWAY NETMASK MAC UUID.
# A prompt or menu sets CHOICE itself and then calls entry_build.
#
# Text from the configuration is never split into words by the shell: APPEND, KERNEL
# arguments and the words after a label reach the kernel as written, joined by one space.

# trimmed TEXT: TEXT without leading and trailing blanks.
trimmed() {
	local trim
	trimmed_set trim "$1"
	printf '%s\n' "$trim"
}

# trimmed_set VAR TEXT: VAR=trimmed TEXT, in this shell (no subshell per field).
trimmed_set() {
	local text=$2
	text=${text#"${text%%[! 	]*}"}
	eval "$1=\${text%\"\${text##*[! 	]}\"}"
}

# With a menu (UI, or DEFAULT naming a .c32 module) or a PROMPT, the timeout fires:
# ONTIMEOUT, else the default entry; without them, DEFAULT at once. A menu without
# DEFAULT has its MENU DEFAULT or first entry; without a menu and without DEFAULT,
# syslinux 6 boots nothing (it waits at boot:): that is a failure here.
choose_unattended() {
	local default ontimeout first menu=0 menudefault count index ui prompt
	config_set default default
	config_set ontimeout ontimeout
	config_set ui ui
	config_set prompt prompt
	count=${CFG_N:-$(label_count)}
	first=${default%%[ 	]*}
	CHOICE_LABEL=''
	if [ -n "$ui" ]; then
		menu=1
	else
		case $first in *.c32 | *.C32) label_find "$first" >/dev/null || menu=1 ;; esac
	fi
	menudefault=''
	[ "$menu" = 1 ] && menudefault=$(label_menu_default)
	if [ "$menu" = 1 ]; then
		if [ -n "$ontimeout" ]; then
			CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (menu timeout)"
		elif [ -n "$first" ] && label_find_set index "$first"; then
			CHOICE_LABEL=$index CHOICE_FROM="DEFAULT (menu default)"
		elif [ -n "$menudefault" ]; then
			CHOICE_LABEL=$menudefault CHOICE_FROM="MENU DEFAULT"
		elif [ "$count" -ge 1 ]; then
			CHOICE_LABEL=1 CHOICE_FROM="first LABEL (menu)"
		else
			die "configuration $CONFIG_NAME has a menu but no LABEL to boot"
		fi
	elif [ "$prompt" != 0 ] && [ -n "$ontimeout" ]; then
		CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (prompt timeout)"
	elif [ -n "$default" ]; then
		CHOICE=$default CHOICE_FROM="DEFAULT"
	elif [ "$count" -ge 1 ]; then
		# syslinux 6 boots nothing without DEFAULT or UI (no first LABEL, no MENU
		# DEFAULT outside a menu): it waits at boot:, and so nothing is chosen here.
		die "configuration $CONFIG_NAME has no DEFAULT or UI: syslinux boots none of its labels unattended (No DEFAULT or UI configuration directive found!); type one at boot:"
	else
		die "configuration $CONFIG_NAME has neither DEFAULT nor any LABEL"
	fi
	[ -z "$CHOICE_LABEL" ] || label_set CHOICE "$CHOICE_LABEL" name
}

sysappend() {
	sysappend_set "$1"
	echo "$SYSAPPEND"
}

# sysappend_set BITS: sysappend's strings in SYSAPPEND, in this shell.
sysappend_set() {
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
	SYSAPPEND=$out
}

entry_build() {
	local first=${1%%[ 	]*} args='' index
	case $1 in *[\ \	]*) trimmed_set args "${1#*[ 	]}" ;; esac
	if label_find_set index "$first"; then
		entry_build_label "$index" "$args"
	else
		# Not a label: syslinux boots it as a kernel name with arguments, after the global
		# APPEND and with the global IPAPPEND.
		ENTRY_LABEL=''
		entry_assemble kernel "$first" "$(config_get append)" '' "$(config_get ipappend)" "$args"
	fi
}

entry_build_label() {
	local append hasappend type kernel initrd ipappend
	label_set ENTRY_LABEL "$1" name
	label_set hasappend "$1" hasappend
	if [ "$hasappend" = 1 ]; then
		label_set append "$1" append
	else
		config_set append append
	fi
	label_set type "$1" type
	label_set kernel "$1" kernel
	label_set initrd "$1" initrd
	label_set ipappend "$1" ipappend
	entry_assemble "$type" "$kernel" "$append" "$initrd" "$ipappend" "${2-}"
}

# entry_assemble TYPE KERNEL APPEND INITRD IPAPPEND ARGS: the ENTRY_* of one entry.
entry_assemble() {
	local kernel append=$3 initrd ipappend line
	ENTRY_TYPE=$1
	trimmed_set append "$append"
	[ "$append" = "-" ] && append=''
	trimmed_set kernel "$2"
	ENTRY_KERNEL=${kernel%%[ 	]*}
	ENTRY_KARGS=''
	case $kernel in *[\ \	]*) trimmed_set ENTRY_KARGS "${kernel#*[ 	]}" ;; esac
	# syslinux's order: KERNEL arguments, APPEND, initrd=, the SYSAPPEND strings, then the
	# words after the label on the command line.
	line=$ENTRY_KARGS
	[ -n "$append" ] && line="${line:+$line }$append"
	trimmed_set initrd "$4"
	[ -n "$initrd" ] && line="${line:+$line }initrd=$initrd"
	sysappend_set "$5"
	ipappend=$SYSAPPEND
	[ -n "$ipappend" ] && line="${line:+$line }${ipappend# }"
	[ -n "$6" ] && line="${line:+$line }$6"
	ENTRY_LINE=$line
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

# entry_split: the command line as syslinux 6 hands it to the kernel (ldlinux's
# kernel.c): "BOOT_IMAGE=KERNEL " and the entry's line, initrd= arguments and all (the
# blank after the kernel name is left out when the line is empty). A KERNEL URL's
# user:password@ is masked there: /proc/cmdline is readable by every user.
entry_split() {
	local image=$ENTRY_KERNEL
	case $image in *://*@*) image=$(url_masked "$image") ;; esac
	APPEND_LINE="BOOT_IMAGE=$image${ENTRY_LINE:+ $ENTRY_LINE}"
	INITRDS=
}

# entry_initrds: INITRDS from APPEND_LINE as kernel.c finds them: what follows the first
# "initrd=" (strstr: anywhere in the line, even inside a word or quotes) up to a blank,
# a comma list. awk reads the line on stdin: it may be long, and an environment or
# argument over 128 KiB would fail the exec.
entry_initrds() {
	local rest
	INITRDS=
	case $APPEND_LINE in *initrd=*) ;; *) return 0 ;; esac
	# A line of ordinary length is cut by the shell (no process); its pattern matching
	# is not linear, so a long one goes to awk.
	if [ "${#APPEND_LINE}" -le 2048 ]; then
		rest=${APPEND_LINE#*initrd=}
		INITRDS=${rest%% *}
		return 0
	fi
	INITRDS=$(printf '%s\n' "$APPEND_LINE" | awk '{ s = substr($0, index($0, "initrd=") + 7); sub(/ .*/, "", s); print s }') ||
		die "cannot read the initrd= of the command line"
}
