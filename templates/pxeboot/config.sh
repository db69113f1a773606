# shellcheck shell=dash
# config.sh: finding the PXELINUX configuration and reading it (syslinux's rules).
#
# Exports: config_find       tries syslinux's lookup order; sets CONFIG_NAME (as shown)
#                            and CONFIG_LOCAL (the fetched copy), or dies;
#          config_try NAME   one candidate: 0 found (CONFIG_NAME/CONFIG_LOCAL set), 1 not;
#          config_read FILE  reads a fetched configuration, INCLUDEs and all, replacing
#                            what an earlier config_read read;
#          config_get KEY    prints a global setting: default ontimeout ui prompt append
#                            ipappend (ipappend as a number);
#          label_count       prints the number of LABELs;
#          label_find NAME   prints the index (1...) of the label NAME boots, or fails;
#          label_get INDEX FIELD  prints a field of a label: name kernel type append
#                            hasappend initrd ipappend menudefault;
#          label_menu_default  prints the name of the first MENU DEFAULT label, if any.
# Reads:   pxeconffile UUID MAC IP_HEX SERVER (facts.sh), WORK, PXE_INCLUDE_DEPTH.
# Files fetched here are numbered by N_FILES (starts at 0) so none overwrites another.

N_FILES=0

# config_try NAME: fetches a candidate configuration; 0 if found, 1 if not.
config_try() {
	local location
	location=$(resolve "$1") || exit 1
	debug "trying config $(shown "$location")"
	N_FILES=$((N_FILES + 1))
	fetch "$location" "$WORK/config.$N_FILES"
	case $? in
	0)
		CONFIG_NAME=$(shown "$location") CONFIG_LOCAL=$WORK/config.$N_FILES
		return 0
		;;
	1)
		CONFIG_TRIED="$CONFIG_TRIED $(shown "$location")"
		return 1
		;;
	*) die "cannot fetch config '$(shown "$location")' $FETCH_ERROR" ;;
	esac
}

# The syslinux order: option 209 (relative to the prefix), then under pxelinux.cfg/ the
# UUID, 01-MAC, the hex IP shortened one digit at a time, and "default".
config_find() {
	local hex
	CONFIG_TRIED=
	[ -n "$pxeconffile" ] && config_try "$pxeconffile" && return 0
	[ -n "$UUID" ] && config_try "pxelinux.cfg/$UUID" && return 0
	[ -n "$MAC" ] && config_try "pxelinux.cfg/01-$MAC" && return 0
	hex=$IP_HEX
	while [ -n "$hex" ]; do
		config_try "pxelinux.cfg/$hex" && return 0
		hex=${hex%?}
	done
	config_try "pxelinux.cfg/default" && return 0
	if url_is "$PREFIX"; then
		die "no configuration file under $PREFIX; tried:$CONFIG_TRIED"
	fi
	die "no configuration file on TFTP server $SERVER; tried:$CONFIG_TRIED"
}

# --- the parsed configuration: globals G_*, labels L_<field>_<index> ------------------

config_get() {
	case $1 in
	default) printf '%s\n' "$G_DEFAULT" ;;
	ontimeout) printf '%s\n' "$G_ONTIMEOUT" ;;
	ui) printf '%s\n' "$G_UI" ;;
	prompt) printf '%s\n' "$G_PROMPT" ;;
	append) printf '%s\n' "$G_APPEND" ;;
	ipappend) printf '%s\n' "$G_IPAPPEND" ;;
	*) return 1 ;;
	esac
}

label_count() { echo "$N_LABELS"; }

label_get() {
	local value
	eval "value=\$L_$2_$1"
	printf '%s\n' "$value"
}

label_find() {
	local i=1 name
	while [ "$i" -le "$N_LABELS" ]; do
		eval "name=\$L_name_$i"
		if [ "$name" = "$1" ]; then
			echo "$i"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

label_menu_default() {
	local i=1 flag
	while [ "$i" -le "$N_LABELS" ]; do
		eval "flag=\$L_menudefault_$i"
		if [ "$flag" = 1 ]; then
			label_get "$i" name
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# --- reading ----------------------------------------------------------------------------

config_read() {
	N_LABELS=0
	IN_LABEL=0
	G_APPEND='' G_IPAPPEND=0 G_DEFAULT='' G_ONTIMEOUT='' G_UI='' G_PROMPT=0
	config_parse "$1" 0
}

# config_lines FILE: one "keyword rest" line per directive, keyword lower-cased (and the
# word after MENU and TEXT), CR, indentation, blank lines and comments dropped.
config_lines() {
	awk '{
		sub(/\r$/, ""); sub(/^[ \t]+/, "")
		if ($0 == "" || $0 ~ /^#/) next
		kw = $0; sub(/[ \t].*$/, "", kw)
		rest = substr($0, length(kw) + 1); sub(/^[ \t]+/, "", rest)
		kw = tolower(kw)
		if (kw == "menu" || kw == "text") {
			sub2 = rest; sub(/[ \t].*$/, "", sub2)
			tail = substr(rest, length(sub2) + 1); sub(/^[ \t]+/, "", tail)
			rest = tolower(sub2) " " tail
		}
		print kw " " rest
	}' "$1"
}

# set_label FIELD VALUE: stores a field of the current label (index N_LABELS).
set_label() { eval "L_$1_$N_LABELS=\$2"; }

# ipappend_value TEXT: strtoul(TEXT, 0) as syslinux reads it (0x.. hex, 0.. octal).
ipappend_value() {
	local v=${1%%[ 	]*}
	case $v in
	0[xX]*) case ${v#??} in '' | *[!0-9a-fA-F]*) v=bad ;; esac ;;
	0*) case $v in *[!0-7]*) v=bad ;; esac ;;
	*) is_uint "$v" || v=bad ;;
	esac
	if [ "$v" = bad ]; then
		warn "IPAPPEND/SYSAPPEND '$1' is not a number: ignored"
		echo 0
	else
		echo $((v))
	fi
}

# config_parse FILE DEPTH: reads one configuration file into the L_* and G_* variables.
config_parse() {
	local kw rest word parsed=$1.lines in_text=0
	config_lines "$1" >"$parsed" || die "cannot read configuration $1"
	while IFS= read -r kw; do
		rest=${kw#* }
		kw=${kw%% *}
		if [ "$in_text" = 1 ]; then
			[ "$kw" = endtext ] && in_text=0
			continue
		fi
		case $kw in
		label)
			N_LABELS=$((N_LABELS + 1))
			IN_LABEL=1
			word=${rest%%[ 	]*}
			set_label name "$word"
			set_label kernel "$word"
			set_label type kernel
			set_label append ""
			set_label hasappend 0
			set_label initrd ""
			set_label ipappend "$G_IPAPPEND"
			set_label menudefault 0
			;;
		kernel | linux | boot | bss | pxe | fdimage | comboot | com32 | config | localboot)
			if [ "$IN_LABEL" = 1 ]; then
				set_label kernel "$rest"
				set_label type "$kw"
			else
				debug "$kw outside a LABEL ignored"
			fi
			;;
		append)
			if [ "$IN_LABEL" = 1 ]; then
				set_label append "$rest"
				set_label hasappend 1
			else
				G_APPEND=$rest
			fi
			;;
		initrd)
			if [ "$IN_LABEL" = 1 ]; then
				set_label initrd "$rest"
			else
				warn "INITRD outside a LABEL is ignored (as syslinux does)"
			fi
			;;
		ipappend | sysappend)
			if [ "$IN_LABEL" = 1 ]; then
				set_label ipappend "$(ipappend_value "$rest")"
			else
				G_IPAPPEND=$(ipappend_value "$rest")
			fi
			;;
		default) G_DEFAULT=$rest ;;
		ontimeout) G_ONTIMEOUT=$rest ;;
		ui) G_UI=$rest ;;
		prompt)
			G_PROMPT=${rest%%[ 	]*}
			is_uint "$G_PROMPT" || G_PROMPT=0
			;;
		include) config_include "${rest%%[ 	]*}" "$2" ;;
		menu)
			case $rest in
			"default "*) [ "$IN_LABEL" = 1 ] && set_label menudefault 1 ;;
			"include "*)
				rest=${rest#include }
				config_include "${rest%%[ 	]*}" "$2"
				;;
			esac
			;;
		text) in_text=1 ;;
		say) say "SAY ${rest}" ;;
		timeout | totaltimeout | f[0-9] | f1[0-2] | display | font | kbdmap | serial | console | \
			allowoptions | implicit | noescape | nocomplete | nohalt | onerror | pxeretry | \
			path | sendcookies | localboot_type) ;;
		*) debug "unknown directive '$kw' ignored" ;;
		esac
	done <"$parsed"
}

# config_include NAME DEPTH: INCLUDE inserts the file at this point, the current LABEL
# goes on.
config_include() {
	local depth=$(($2 + 1)) location local_file
	[ -n "$1" ] || return 0
	[ "$depth" -le "$PXE_INCLUDE_DEPTH" ] ||
		die "INCLUDE '$1' nested more than $PXE_INCLUDE_DEPTH levels deep (an include loop?)"
	location=$(resolve "$1") || exit 1
	N_FILES=$((N_FILES + 1))
	local_file="$WORK/include.$N_FILES"
	fetch "$location" "$local_file"
	case $? in
	0) debug "including $(shown "$location")" ;;
	1)
		warn "INCLUDE '$(shown "$location")' not found: skipped (as syslinux does)"
		return 0
		;;
	*) die "cannot fetch INCLUDE '$(shown "$location")' $FETCH_ERROR" ;;
	esac
	config_parse "$local_file" "$depth"
}
