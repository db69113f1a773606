# shellcheck shell=dash
# config.sh: finding the PXELINUX configuration and reading it (syslinux's rules).
#
# Exports: config_find       tries syslinux's lookup order; sets CONFIG_NAME (as shown)
#                            and CONFIG_LOCAL (the fetched copy), or dies;
#          config_try NAME   one candidate: 0 found (CONFIG_NAME/CONFIG_LOCAL set), 1 not;
#          config_first NAME...  the candidates in one go (fetch_first): 0 found, as
#                            config_try, else FETCH_MISSES of them were not there;
#          config_read FILE  reads a fetched configuration, INCLUDEs and all, replacing
#                            what an earlier config_read read;
#          config_get KEY    prints a global setting: default ontimeout ui prompt append
#                            ipappend (ipappend as a number);
#          label_count       prints the number of LABELs;
#          label_find WORD   prints the index (1...) of the first label named WORD, or
#                            fails (syslinux looks up a command line by its first word);
#          label_get INDEX FIELD  prints a field of a label: name kernel type append
#                            hasappend initrd ipappend menudefault, and the menu's
#                            menulabel menuhide haspasswd passwd help (lines joined by
#                            the ASCII record separator) sepbefore disabled indent;
#          label_menu_default  prints the index of the first MENU DEFAULT label, if any;
#          config_set VAR KEY, label_set VAR INDEX FIELD  config_get's and label_get's
#                            answers in VAR, without a subshell; label_find_set VAR WORD
#                            label_find's.
# Reads:   pxeconffile UUID MAC IP_HEX SERVER (facts.sh), WORK, PXE_INCLUDE_DEPTH,
#          control_chars (common.sh);
#          verify_file (verify.sh): each file fetched here is checked before it is read.
# Files fetched here are numbered by N_FILES (starts at 0) so none overwrites another.
#
# Reading is linear in the size of the configuration: awk cuts each file into its
# directives (one pass), the shell splices in the INCLUDEd files (one step per INCLUDE),
# and one more awk pass turns the whole into a table (without INCLUDE, the same process as
# the cutting: config_split_parse), $WORK/config.table, one record per
# line, fields separated by the ASCII unit separator: "G key value" for the globals,
# "L index name kernel type hasappend append initrd ipappend menudefault menulabel menuhide
# haspasswd passwd help sepbefore disabled indent" per label.
# config_load reads that table into shell variables once (all of it for up to 64 labels);
# the accessors read those, and awk over the table for the rest.

N_FILES=0
control_chars
CONFIG_SEP=$US

# config_try NAME: fetches a candidate configuration; 0 if found, 1 if not.
config_try() {
	local location
	resolve_set "$1"
	location=$RESOLVED
	shown_set "$location"
	debug "trying config $SHOWN"
	N_FILES=$((N_FILES + 1))
	fetch "$location" "$WORK/config.$N_FILES"
	case $? in
	0)
		verify_file "$WORK/config.$N_FILES" "$location" ||
			die "config '$SHOWN' $VERIFY_ERROR"
		CONFIG_NAME=$SHOWN CONFIG_LOCAL=$WORK/config.$N_FILES
		return 0
		;;
	1)
		CONFIG_TRIED="$CONFIG_TRIED $SHOWN"
		return 1
		;;
	*) die "cannot fetch config '$SHOWN' $FETCH_ERROR" ;;
	esac
}

# The syslinux order: option 209 (relative to the prefix), then under pxelinux.cfg/ the
# UUID, 01-MAC, the hex IP shortened one digit at a time, and "default". The candidates
# after option 209 are asked by fetch_first in one go; where it stops short of an answer,
# config_try goes on from there, one by one.
config_find() {
	local hex name
	CONFIG_TRIED=
	[ -n "$pxeconffile" ] && config_try "$pxeconffile" && return 0
	set --
	[ -n "$UUID" ] && set -- "pxelinux.cfg/$UUID"
	[ -n "$MAC" ] && set -- "$@" "pxelinux.cfg/01-$MAC"
	hex=$IP_HEX
	while [ -n "$hex" ]; do
		set -- "$@" "pxelinux.cfg/$hex"
		hex=${hex%?}
	done
	set -- "$@" pxelinux.cfg/default
	config_first "$@" && return 0
	shift "$FETCH_MISSES"
	for name; do
		config_try "$name" && return 0
	done
	if url_is "$PREFIX"; then
		die "no configuration file under $PREFIX; tried:$CONFIG_TRIED"
	fi
	die "no configuration file on TFTP server $SERVER; tried:$CONFIG_TRIED"
}

# config_first NAME...: fetch_first over the candidates; 0 found (as config_try), else
# FETCH_MISSES of them were not there (in CONFIG_TRIED now).
config_first() {
	local count=$# name location status misses=0
	for name; do
		resolve_set "$name"
		set -- "$@" "$RESOLVED"
	done
	shift "$count"
	fetch_first config "$WORK/config.$((N_FILES + 1))" "$@"
	status=$?
	for location; do
		shown_set "$location"
		[ "$misses" -lt "$FETCH_MISSES" ] || break
		CONFIG_TRIED="$CONFIG_TRIED $SHOWN"
		misses=$((misses + 1))
	done
	[ "$status" = 3 ] && die "cannot fetch config '$SHOWN' $FETCH_ERROR"
	[ "$status" = 0 ] || return 1
	N_FILES=$((N_FILES + 1))
	verify_file "$WORK/config.$N_FILES" "$location" || die "config '$SHOWN' $VERIFY_ERROR"
	CONFIG_NAME=$SHOWN CONFIG_LOCAL=$WORK/config.$N_FILES
	return 0
}

# --- the parsed configuration -----------------------------------------------------------

# config_load: the globals of the table in shell variables (CFG_G_key) and, for a
# configuration of up to CONFIG_VAR_LABELS labels, each label field too (CFG_L<index>_
# <field>, CFG_N labels): the accessors then start no process (under TCG each awk start
# costs tens of milliseconds, and a boot asks about 30). config_parse wrote them, in the
# same awk pass as the table, into $WORK/config.vars. A larger one is read by awk per
# question, as the shell's variable table is not made for 100,000 names. The variables
# of an earlier config_read are unset first (CFG_VARS lists them).
CONFIG_VAR_LABELS=64
config_load() {
	# shellcheck disable=SC2086 # names, split at blanks; globbing is off
	[ -z "${CFG_VARS-}" ] || unset $CFG_VARS
	CFG_N=''
	# shellcheck disable=SC1091 # written by config_parse
	. "$WORK/config.vars"
}

# config_var NAME: prints the variable NAME (set by config_load), or nothing when unset.
config_var() {
	eval "[ -n \"\${$1+set}\" ] && printf '%s\\n' \"\$$1\""
	return 0
}

# config_table_awk QUERY PROGRAM: runs an awk PROGRAM over the table, fields split,
# with QUERY as ENVIRON["PXE_Q"] (awk -v would interpret backslashes in it).
config_table_awk() {
	PXE_Q=$1 awk -F "$CONFIG_SEP" "$2" "$WORK/config.table"
}

config_get() {
	case $1 in '' | *[!a-z]*) return 1 ;; esac
	config_var "CFG_G_$1"
}

# config_set VAR KEY: VAR=the global KEY, as config_get prints it (no subshell).
config_set() {
	case $2 in '' | *[!a-z]*) return 1 ;; esac
	eval "$1=\${CFG_G_$2-}"
}

# label_set VAR INDEX FIELD: VAR=the field, as label_get prints it (no subshell when the
# labels are in variables).
label_set() {
	if [ -n "$CFG_N" ]; then
		case $3 in '' | *[!a-z]*) return 1 ;; esac
		is_uint "$2" || {
			eval "$1="
			return 0
		}
		eval "$1=\${CFG_L$2_$3-}"
	else
		eval "$1=\$(label_get \"\$2\" \"\$3\")"
	fi
}

label_count() {
	if [ -n "$CFG_N" ]; then
		echo "$CFG_N"
	else
		config_table_awk '' '$1 == "L" { n++ } END { print n + 0 }'
	fi
}

# label_find_set VAR WORD: VAR=label_find's answer (no subshell when the labels are in
# variables); false when there is no such label.
label_find_set() {
	local i=1 name
	if [ -z "$CFG_N" ]; then
		i=$(config_table_awk "$2" '$1 == "L" && $3 "" == ENVIRON["PXE_Q"] "" { print $2; exit }')
		[ -n "$i" ] || return 1
		eval "$1=\$i"
		return 0
	fi
	while [ "$i" -le "$CFG_N" ]; do
		eval "name=\$CFG_L${i}_name"
		if [ "$name" = "$2" ]; then
			eval "$1=\$i"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

label_find() {
	local index
	label_find_set index "$1" && echo "$index"
}

label_get() {
	local column
	case $2 in
	name) column=3 ;;
	kernel) column=4 ;;
	type) column=5 ;;
	hasappend) column=6 ;;
	append) column=7 ;;
	initrd) column=8 ;;
	ipappend) column=9 ;;
	menudefault) column=10 ;;
	menulabel) column=11 ;;
	menuhide) column=12 ;;
	haspasswd) column=13 ;;
	passwd) column=14 ;;
	help) column=15 ;;
	sepbefore) column=16 ;;
	disabled) column=17 ;;
	indent) column=18 ;;
	*) return 1 ;;
	esac
	if [ -n "$CFG_N" ]; then
		is_uint "$1" && config_var "CFG_L$1_$2"
		return 0
	fi
	config_table_awk "$1" '$1 == "L" && $2 "" == ENVIRON["PXE_Q"] "" { print $'"$column"'; exit }'
}

label_menu_default() {
	local i=1 flag index
	if [ -z "$CFG_N" ]; then
		index=$(config_table_awk '' '$1 == "L" && $10 == 1 { print $2; exit }')
		[ -n "$index" ] && echo "$index"
		return
	fi
	while [ "$i" -le "$CFG_N" ]; do
		eval "flag=\$CFG_L${i}_menudefault"
		[ "$flag" = 1 ] && echo "$i" && return 0
		i=$((i + 1))
	done
	return 1
}

# --- reading ----------------------------------------------------------------------------

config_read() {
	local stream=$WORK/config.stream
	# No INCLUDE (most configurations): one awk reads it all.
	config_split_parse "$1" "$WORK/config.messages" "$WORK/config.vars" \
		>"$WORK/config.table" || die "cannot parse configuration $CONFIG_NAME"
	if [ -s "$1.includes" ]; then
		config_splice "$1" 0 >"$stream" || die "cannot write $stream"
		config_parse "$WORK/config.messages" "$WORK/config.vars" <"$stream" \
			>"$WORK/config.table" || die "cannot parse configuration $CONFIG_NAME"
	fi
	config_load
	config_messages <"$WORK/config.messages"
}

# config_split FILE: cuts FILE into its directives, one "keyword rest" line each, keyword
# lower-cased (and the word after MENU), as syslinux reads them: a line ends at its
# first CR, leading blanks are skipped, TEXT ... ENDTEXT blocks are left out but for
# the lines of TEXT HELP, which come as "texthelp LINE" (LINE as written). The
# directives go to FILE.part.0, FILE.part.1, ..., split at each INCLUDE (and MENU
# INCLUDE), whose file names are printed, one a line, in order.
config_split() {
	PXE_Q=$1 awk "$CONFIG_SPLIT_AWK" "$1"
}

# config_split's and config_parse's awk programs, kept as text so that config_split_parse
# can run them as one: each directive config_split writes is config_parse's record (rec)
# as well. The INCLUDEd names go to the file PXE_INCLUDES when that is set (stdout is then
# the table), else to stdout.
CONFIG_SPLIT_AWK='
	function next_part() { close(out); out = base ".part." ++part; printf "" >out }
	BEGIN {
		base = ENVIRON["PXE_Q"]; part = 0; out = base ".part.0"; printf "" >out
		incl = ENVIRON["PXE_INCLUDES"]; if (incl != "") printf "" >incl
	}
	{
		sub(/\r.*/, "")
		line = $0; sub(/^[ \t]+/, "", line)
		kw = line; sub(/[ \t].*$/, "", kw); kw = tolower(kw)
		if (in_text) {
			if (kw == "endtext") in_text = 0
			if (kw == "endtext" || !text_help) next
			rec = "texthelp " $0
		} else {
			if (line == "" || line ~ /^#/) next
			rest = substr(line, length(kw) + 1); sub(/^[ \t]+/, "", rest)
			if (kw == "text") { in_text = 1; text_help = (tolower(rest) ~ /^help([ \t]|$)/); next }
			if (kw == "menu") {
				sub2 = rest; sub(/[ \t].*$/, "", sub2)
				tail = substr(rest, length(sub2) + 1); sub(/^[ \t]+/, "", tail)
				sub2 = tolower(sub2)
				if (sub2 == "include") { kw = "include"; rest = tail }
				else rest = sub2 " " tail
			}
			if (kw == "include") {
				name = rest; sub(/[ \t].*$/, "", name)
				if (name == "") next
				if (incl != "") print name >incl; else print name
				next_part()
				next
			}
			rec = kw " " rest
		}
		print rec >out
	}
	END { close(out); if (incl != "") close(incl) }'

# config_expand FILE DEPTH: prints the directives of FILE with each INCLUDE replaced by
# the directives of the included file (INCLUDE inserts at that point, so a LABEL goes on).
config_expand() {
	config_split "$1" >"$1.includes" || die "cannot read configuration $1"
	config_splice "$1" "$2"
}

# config_splice FILE DEPTH: the parts config_split cut FILE into, with the directives of
# each INCLUDEd file between them.
config_splice() {
	local part=0 name
	cat "$1.part.0"
	while IFS= read -r name; do
		config_include "$name" "$2"
		part=$((part + 1))
		cat "$1.part.$part"
	done <"$1.includes"
}

# config_include NAME DEPTH: the directives of an INCLUDEd file, or a warning when it
# is missing (as syslinux skips it).
config_include() {
	local depth=$(($2 + 1)) location local_file
	[ "$depth" -le "$PXE_INCLUDE_DEPTH" ] ||
		die "INCLUDE '$1' nested more than $PXE_INCLUDE_DEPTH levels deep (an include loop?)"
	location=$(resolve "$1") || exit 1
	N_FILES=$((N_FILES + 1))
	local_file="$WORK/include.$N_FILES"
	fetch "$location" "$local_file"
	case $? in
	0)
		verify_file "$local_file" "$location" || die "INCLUDE '$(shown "$location")' $VERIFY_ERROR"
		debug "including $(shown "$location")"
		;;
	1)
		warn "INCLUDE '$(shown "$location")' not found: skipped (as syslinux does)"
		return 0
		;;
	*) die "cannot fetch INCLUDE '$(shown "$location")' $FETCH_ERROR" ;;
	esac
	config_expand "$local_file" "$depth"
}

# config_messages: says the "level text" lines config_parse wrote (say, warn, debug).
config_messages() {
	local line
	while IFS= read -r line; do
		case $line in
		"say "*) say "${line#say }" ;;
		"warn "*) warn "${line#warn }" ;;
		"debug "*) debug "${line#debug }" ;;
		esac
	done
}

# config_parse MESSAGES VARS: the directive stream on stdin -> the table on stdout, the
# messages to say into the file MESSAGES, and the table as shell assignments for
# config_load into the file VARS.
# syslinux's rules (com32/menu/readconfig.c): LABEL's whole rest of line names the label
# (trailing blanks dropped) and is its kernel until KERNEL & co. say otherwise; settings
# before the first LABEL are global; IPAPPEND/SYSAPPEND are read as strtoul(text, 0).
config_parse() {
	PXE_MESSAGES=$1 PXE_VARS=$2 PXE_LIMIT=$CONFIG_VAR_LABELS awk -v SEP="$CONFIG_SEP" \
		-v INDENT_MAX=80 "{ rec = \$0 }$CONFIG_PARSE_AWK"
}

# config_split_parse FILE MESSAGES VARS: config_split and config_parse in one awk process
# (one process start less, ~10 ms under TCG): the table on stdout, the INCLUDEd names in
# FILE.includes. When that is not empty, the table is of FILE alone: the caller splices
# and parses again.
config_split_parse() {
	PXE_Q=$1 PXE_INCLUDES=$1.includes PXE_MESSAGES=$2 PXE_VARS=$3 \
		PXE_LIMIT=$CONFIG_VAR_LABELS awk -v SEP="$CONFIG_SEP" -v INDENT_MAX=80 \
		"$CONFIG_SPLIT_AWK$CONFIG_PARSE_AWK" "$1"
}

CONFIG_PARSE_AWK='
	function message(level, text) { print level " " text >messages }
	function assign(name, value,   quoted, i) {
		value = value ""; quoted = ""
		while ((i = index(value, "\047")) > 0) {
			quoted = quoted substr(value, 1, i - 1) "\047\\\047\047"
			value = substr(value, i + 1)
		}
		print name "=\047" quoted value "\047" >vars; names = names " " name
	}
	function strtoul(text,   base, value, digit, c, i) {
		sub(/^[ \t]+/, "", text)
		base = 10; i = 1
		if (text ~ /^0[xX][0-9a-fA-F]/) { base = 16; i = 3 } else if (text ~ /^0/) base = 8
		value = 0
		for (; i <= length(text); i++) {
			c = substr(text, i, 1)
			digit = index("0123456789abcdef", tolower(c)) - 1
			if (digit < 0 || digit >= base) break
			value = (value * base + digit) % 4294967296
		}
		if (substr(text, i) !~ /^([ \t].*)?$/)
			message("warn", "IPAPPEND/SYSAPPEND \047" text "\047 is not a number: read as " value)
		return value
	}
	function field(text) { gsub(SEP, " ", text); return text }
	BEGIN {
		messages = ENVIRON["PXE_MESSAGES"]; printf "" >messages; ipappend = 0; g["prompt"] = 0
		g["allowoptions"] = 1; g["implicit"] = 1; separators = 0
	}
	{
		kw = rec; sub(/ .*/, "", kw)
		rest = substr(rec, length(kw) + 2)
		if (kw == "label") {
			n++
			name = rest; sub(/[ \t]+$/, "", name)
			lname[n] = name; lkernel[n] = name; ltype[n] = "kernel"; lhasappend[n] = 0
			lappend[n] = ""; linitrd[n] = ""; lipappend[n] = ipappend; lmenudefault[n] = 0
			lmenulabel[n] = ""; lmenuhide[n] = 0; lhaspasswd[n] = 0; lpasswd[n] = ""
			lhelp[n] = ""; lsepbefore[n] = separators; ldisabled[n] = 0; lindent[n] = 0
			separators = 0
		} else if (kw ~ /^(kernel|linux|boot|bss|pxe|fdimage|comboot|com32|config|localboot)$/) {
			if (n) { lkernel[n] = rest; ltype[n] = kw }
			else message("debug", kw " outside a LABEL ignored")
		} else if (kw == "append") {
			if (n) { lappend[n] = rest; lhasappend[n] = 1 } else g["append"] = rest
		} else if (kw == "initrd") {
			if (n) linitrd[n] = rest
			else message("warn", "INITRD outside a LABEL is ignored (as syslinux does)")
		} else if (kw == "ipappend" || kw == "sysappend") {
			if (n) lipappend[n] = strtoul(rest); else ipappend = strtoul(rest)
		} else if (kw == "default" || kw == "ontimeout" || kw == "ui") {
			g[kw] = rest
		} else if (kw == "prompt") {
			g["prompt"] = (rest ~ /^[0-9]/) ? rest + 0 : 0
		} else if (kw ~ /^(timeout|totaltimeout|allowoptions|implicit|onerror)$/) {
			g[kw] = rest
		} else if (kw == "texthelp") {
			if (n) lhelp[n] = lhelp[n] (lhelp[n] == "" ? "" : "\036") rest
		} else if (kw == "menu") {
			# The operator side (console.sh, menu.sh): syslinux com32/menu/readconfig.c.
			sub2 = rest; sub(/ .*/, "", sub2); tail = substr(rest, length(sub2) + 2)
			if (sub2 == "default" && n) lmenudefault[n] = 1
			else if (sub2 ~ /^(title|autoboot|passprompt|onerror)$/) g["menu" sub2] = tail
			else if (sub2 == "master" && tolower(tail) ~ /^passwd([ \t]|$)/) {
				tail = substr(tail, 7); sub(/^[ \t]+/, "", tail)
				g["menumaster"] = tail; g["menuhasmaster"] = 1
			} else if (sub2 == "separator") separators++
			else if (n && sub2 == "label") lmenulabel[n] = tail
			else if (n && sub2 == "hide") lmenuhide[n] = 1
			else if (n && sub2 == "passwd") { lhaspasswd[n] = 1; lpasswd[n] = tail }
			else if (n && (sub2 == "disable" || sub2 == "disabled")) ldisabled[n] = 1
			else if (n && sub2 == "indent") {
				# atoi, bounded: MENU INDENT 50000000 would print 50 MB of blanks.
				lindent[n] = (tail ~ /^[0-9]/) ? tail + 0 : 0
				if (lindent[n] > INDENT_MAX) {
					message("warn", "MENU INDENT " lindent[n] " is over " INDENT_MAX " columns: taken as " INDENT_MAX)
					lindent[n] = INDENT_MAX
				}
			}
		} else if (kw == "say") {
			message("say", "SAY " rest)
		} else if (kw !~ /^(f[0-9]|f1[0-2]|display|font|kbdmap|serial|console|noescape|nocomplete|nohalt|pxeretry|path|sendcookies|localboot_type)$/) {
			message("debug", "unknown directive \047" kw "\047 ignored")
		}
	}
	END {
		close(messages)
		g["ipappend"] = ipappend
		vars = ENVIRON["PXE_VARS"]; printf "" >vars
		for (key in g) {
			print "G" SEP key SEP field(g[key])
			if (key ~ /^[a-z]+$/) assign("CFG_G_" key, field(g[key]))
		}
		# The row of each label; its fields (SEP is in none: field() made it a blank) are
		# also the shell variables CFG_L<i>_<name>, in the order of the row.
		nfields = split("name kernel type hasappend append initrd ipappend menudefault " \
			"menulabel menuhide haspasswd passwd help sepbefore disabled indent", lfield, " ")
		as_vars = n <= ENVIRON["PXE_LIMIT"] + 0
		for (i = 1; i <= n; i++) {
			row = field(lname[i]) SEP field(lkernel[i]) SEP ltype[i] SEP lhasappend[i] SEP \
				field(lappend[i]) SEP field(linitrd[i]) SEP lipappend[i] SEP \
				lmenudefault[i] SEP field(lmenulabel[i]) SEP lmenuhide[i] SEP lhaspasswd[i] SEP \
				field(lpasswd[i]) SEP field(lhelp[i]) SEP lsepbefore[i] SEP ldisabled[i] SEP \
				lindent[i]
			print "L" SEP i SEP row
			if (as_vars) {
				split(row, f, SEP)
				for (j = 1; j <= nfields; j++) assign("CFG_L" i "_" lfield[j], f[j])
			}
		}
		if (as_vars) print "CFG_N=" n + 0 >vars
		print "CFG_VARS=\047" names "\047" >vars
		close(vars)
	}'
