# shellcheck shell=dash
# menu.sh: syslinux's menu (UI menu.c32 / vesamenu.c32) as a numbered text menu, the form
# a line-mode console can show: no cursor, so the operator types a number, a label or a
# hotkey letter instead of moving a highlight.
#
# Exports: menu_choose         shows the menu, reads the operator's choice: sets CHOICE,
#                              CHOICE_FROM and CHOICE_TYPED (as prompt_choose does);
#          password_matches STORED TYPED  syslinux's MENU PASSWD check: cleartext, or a
#                              crypt(3) hash $1$ (MD5), $5$ (SHA-256), $6$ (SHA-512)
#                              computed by busybox mkpasswd, or syslinux's own $4$ (SHA-1).
# Reads:   the C_* settings and label fields of console.sh, prompt_ask and
#          console_read_secret (prompt.sh), config_get, label_*.
#
# The rules, from syslinux's com32/menu: MENU HIDE entries are not listed but a typed
# label boots them; MENU SEPARATOR is a blank line, MENU DISABLE an unnumbered line; the
# default entry is DEFAULT's label (unless hidden), else the last MENU DEFAULT, else the
# first entry; Enter boots it, the timeout boots ONTIMEOUT or it without asking for a
# password; an entry with MENU PASSWD asks for it (or for MENU MASTER PASSWD) first; words
# after the choice go on its command line unless ALLOWOPTIONS 0 (with a master password,
# only after it was given, as syslinux's Tab editing).

# menu_build: MENU_COUNT numbered entries MENU_<n> (label indices), MENU_DEFAULT.
menu_build() {
	local i=1 n=0 default index
	MENU_DEFAULT=''
	while [ "$i" -le "$(label_count)" ]; do
		if [ "$(label_get "$i" menuhide)" != 1 ] && [ "$(label_get "$i" disabled)" != 1 ]; then
			n=$((n + 1))
			eval "MENU_$n=\$i"
			[ "$(label_get "$i" menudefault)" = 1 ] && MENU_DEFAULT=$n
		fi
		i=$((i + 1))
	done
	MENU_COUNT=$n
	default=$(config_get default)
	if index=$(label_find "${default%%[ 	]*}"); then
		n=1
		while [ "$n" -le "$MENU_COUNT" ]; do
			[ "$(menu_label "$n")" = "$index" ] && MENU_DEFAULT=$n
			n=$((n + 1))
		done
	fi
	[ -n "$MENU_DEFAULT" ] || [ "$MENU_COUNT" = 0 ] || MENU_DEFAULT=1
}

# menu_label N: the label index of menu entry N.
menu_label() { eval "echo \"\$MENU_$1\""; }

# menu_title INDEX: what the menu shows for a label: its MENU LABEL with the first ^x
# hotkey shown as [x] and the other carets dropped, or the label itself.
menu_title() {
	local title head
	title=$(label_get "$1" menulabel)
	[ -n "$title" ] || title=$(label_get "$1" name)
	case $title in
	*^?*)
		head=${title%%^*}
		title=${title#*^}
		title="${head}[$(printf '%.1s' "$title")]${title#?}"
		;;
	esac
	printf '%s\n' "$title" | tr -d '^'
}

# menu_hotkey INDEX: the hotkey letter of a label (upper case), if its MENU LABEL has one.
menu_hotkey() {
	local title
	title=$(label_get "$1" menulabel)
	case $title in
	*^?*)
		title=${title#*^}
		printf '%.1s' "$title" | tr 'a-z' 'A-Z'
		;;
	esac
}

menu_show() {
	local i=1 n=0 indent help line
	{
		echo
		[ -n "$C_MENU_TITLE" ] && printf '  %s\n\n' "$C_MENU_TITLE"
		while [ "$i" -le "$(label_count)" ]; do
			line=$(label_get "$i" sepbefore)
			while [ "$line" -gt 0 ]; do
				echo
				line=$((line - 1))
			done
			indent=$(printf '%*s' "$(label_get "$i" indent)" '')
			if [ "$(label_get "$i" disabled)" = 1 ]; then
				printf '      %s%s\n' "$indent" "$(menu_title "$i")"
			elif [ "$(label_get "$i" menuhide)" != 1 ]; then
				n=$((n + 1))
				printf '  %2d) %s%s\n' "$n" "$indent" "$(menu_title "$i")"
				help=$(label_get "$i" help)
				[ -z "$help" ] || printf '%s\n' "$help" | tr '\036' '\n' | while IFS= read -r line; do
					printf '        %s\n' "${line#"${line%%[! 	]*}"}"
				done
			fi
			i=$((i + 1))
		done
		echo
		if [ -n "$MENU_DEFAULT" ]; then
			printf 'Type a number or a label, or Enter for %s.' "$MENU_DEFAULT"
		else
			printf 'Type a label.'
		fi
		if [ "$C_ALLOWOPTIONS" = 0 ]; then echo; else echo " Words after it go on its command line."; fi
		[ "$C_TIMEOUT" -gt 0 ] && menu_autoboot "$(((C_TIMEOUT + 9) / 10))"
	} >&2
}

# menu_autoboot SECONDS: MENU AUTOBOOT's message, # the seconds, {one,many} conjugated.
menu_autoboot() {
	local text=$C_MENU_AUTOBOOT head forms tail
	case $text in
	*'{'*,*'}'*)
		head=${text%%\{*} forms=${text#*\{} tail=${forms#*\}} forms=${forms%%\}*}
		if [ "$1" = 1 ]; then forms=${forms%%,*}; else forms=${forms##*,}; fi
		text=$head$forms$tail
		;;
	esac
	while :; do
		case $text in
		*#*) text=${text%%#*}$1${text#*#} ;;
		*) break ;;
		esac
	done
	printf '%s\n' "$text"
}

# menu_pick WORD: prints the label index WORD chooses: an entry number, a label (hidden
# ones too), or a hotkey letter.
menu_pick() {
	local i=1 key
	if is_uint "$1" && [ "$1" -ge 1 ] && [ "$1" -le "$MENU_COUNT" ]; then
		menu_label "$1"
		return 0
	fi
	if i=$(label_find "$1") && [ "$(label_get "$i" disabled)" != 1 ]; then
		echo "$i"
		return 0
	fi
	key=$(printf '%s' "$1" | tr 'a-z' 'A-Z')
	[ "${#key}" = 1 ] || return 1
	i=1
	while [ "$i" -le "$(label_count)" ]; do
		if [ "$(label_get "$i" disabled)" != 1 ] && [ "$(menu_hotkey "$i")" = "$key" ]; then
			echo "$i"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# menu_unlock INDEX: asks for the password of a protected entry; true when given.
# With INDEX empty only the master password unlocks (syslinux's Tab editing).
menu_unlock() {
	local stored='' protected=0
	if [ -n "$1" ]; then
		protected=$(label_get "$1" haspasswd)
		stored=$(label_get "$1" passwd)
	else
		protected=$C_MENU_HASMASTER
	fi
	[ "$protected" = 1 ] || return 0
	console_read_secret "$C_MENU_PASSPROMPT: " || return 1
	if [ -n "$LINE" ]; then
		if { [ "$C_MENU_HASMASTER" = 1 ] && password_matches "$C_MENU_MASTER" "$LINE"; } ||
			{ [ -n "$1" ] && password_matches "$stored" "$LINE"; }; then
			LINE=''
			return 0
		fi
	fi
	LINE=''
	console_show "Wrong password."
	return 1
}

password_matches() {
	local stored=$1 typed=$2 method salt rest computed
	case $stored in
	'$1$'*) method=md5 ;;
	'$4$'*) method=sha1 ;;
	'$5$'*) method=sha256 ;;
	'$6$'*) method=sha512 ;;
	'$'?'$'*) return 1 ;; # an algorithm syslinux does not know never matches
	*)
		[ "$typed" = "$stored" ]
		return
		;;
	esac
	rest=${stored#???}
	salt=${rest%%\$*}
	case $salt in rounds=*) rest=${rest#*\$} salt=$salt\$${rest%%\$*} ;; esac
	if [ "$method" = sha1 ]; then
		# syslinux's sha1pass: $4$SALT$ base64(SHA-1(SALT PASSWORD)), unpadded.
		computed=$(printf '%s%s' "$salt" "$typed" | sha1sum)
		computed=$(printf "$(printf '%.40s' "$computed" | sed 's/../\\x&/g')" | base64 | tr -d '=')
		computed="\$4\$$salt\$$computed"
	else
		computed=$(printf '%s\n' "$typed" | mkpasswd -m "$method" -S "$salt" -P 0) || return 1
	fi
	[ "$stored" = "$computed" ] || [ "$stored" = "$computed\$" ]
}

menu_timed_out() {
	local ontimeout
	ontimeout=$(config_get ontimeout)
	if [ -n "$ontimeout" ]; then
		CHOICE=$ontimeout CHOICE_FROM="ONTIMEOUT (menu timeout)"
	elif [ -n "$MENU_DEFAULT" ]; then
		CHOICE_LABEL=$(menu_label "$MENU_DEFAULT")
		CHOICE=$(label_get "$CHOICE_LABEL" name)
		CHOICE_FROM="menu default $MENU_DEFAULT (menu timeout)"
	else
		die "configuration $CONFIG_NAME has a menu but no entry to boot"
	fi
}

menu_choose() {
	local index
	menu_build
	menu_show
	while :; do
		if ! prompt_ask; then
			menu_timed_out
			return 0
		fi
		case $TYPED in
		'')
			[ -n "$MENU_DEFAULT" ] || continue
			index=$(menu_label "$MENU_DEFAULT")
			;;
		'?')
			menu_show
			continue
			;;
		*)
			if ! index=$(menu_pick "$WORD"); then
				console_show "'$WORD' is neither a number in the menu nor a label."
				continue
			fi
			;;
		esac
		if [ -n "$WORDS" ]; then
			if [ "$C_ALLOWOPTIONS" = 0 ]; then
				console_show "Options after '$WORD' are not allowed here (ALLOWOPTIONS 0)."
				continue
			fi
			menu_unlock "" || continue
		fi
		menu_unlock "$index" || continue
		CHOICE=$(label_get "$index" name)$WORDS CHOICE_TYPED=1 CHOICE_LABEL=$index
		CHOICE_ARGS=$(trimmed "$WORDS")
		CHOICE_FROM="the menu ('${TYPED:-Enter}')"
		return 0
	done
}
