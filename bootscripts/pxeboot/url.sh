# shellcheck shell=dash
# url.sh: names that are URLs, and names resolved against a URL prefix (pure functions).
#
# syslinux's lpxelinux.0 takes tftp://, http:// and ftp:// URLs wherever a file name goes;
# petitboot also takes a URL as DHCP option 209 (config file) or 210 (path prefix) and
# resolves relative names against it. The rules kept here:
#   - a name with "SCHEME://" is absolute; tftp://HOST/PATH is the TFTP location
#     HOST::PATH, every other scheme stays a URL location;
#   - a relative name under a URL prefix is the prefix followed by the name, after any
#     leading "/" and "./" (a leading / is not absolute in syslinux, and petitboot joins
#     "./kernel" and "/initrd" under the prefix alike);
#   - "::name" and "host::name" stay TFTP, whatever the prefix.
#
# Exports: url_is NAME            true when NAME is a URL;
#          url_check URL          prints why a URL cannot be fetched (nothing if it can),
#                                 as a phrase that follows the URL; url_check_set: the
#                                 same in PROBLEM (empty if it can), without a subshell;
#          url_scheme URL         prints the scheme in lower case; url_scheme_set: in
#                                 SCHEME;
#          url_dir URL            prints URL up to its last "/" after the host (the
#                                 directory relative names of a file at URL resolve in);
#          url_join PREFIX NAME   prints the URL a relative NAME has under a URL PREFIX;
#          url_location NAME      prints the location of an absolute URL: HOST::PATH for
#                                 tftp://, the URL itself otherwise; url_location_set:
#                                 the same in LOCATION;
#          url_host URL           prints the URL's host ("[v6]" keeps its brackets);
#          loc_split LOCATION     sets LOC_HOST and LOC_PATH from HOST::PATH, where HOST
#                                 may be an IPv6 literal in brackets ([fd77::1]::path).
# An IPv6 address stands in brackets in a URL (RFC 3986) and in HOST::PATH alike.
# The schemes curl fetches (fetch-url.sh): http, ftp and https (verified).

url_is() {
	case $1 in
	[a-zA-Z]*://*) ;;
	*) return 1 ;;
	esac
	case ${1%%://*} in *[!a-zA-Z0-9+.-]*) return 1 ;; esac
	return 0
}

url_scheme() {
	url_scheme_set "$1"
	printf '%s\n' "$SCHEME"
}

# url_scheme_set URL: the scheme in lower case in SCHEME; the four fetched here without
# a process (each URL is looked at several times, and under TCG a tr costs milliseconds).
url_scheme_set() {
	case ${1%%://*} in
	[hH][tT][tT][pP]) SCHEME=http ;;
	[hH][tT][tT][pP][sS]) SCHEME=https ;;
	[fF][tT][pP]) SCHEME=ftp ;;
	[tT][fF][tT][pP]) SCHEME=tftp ;;
	*) SCHEME=$(printf '%s\n' "${1%%://*}" | tr 'A-Z' 'a-z') ;;
	esac
}

url_check() {
	url_check_set "$1"
	[ -z "$PROBLEM" ] || printf '%s\n' "$PROBLEM"
}

# url_check_set URL: url_check's answer in PROBLEM (empty: none), in this shell.
url_check_set() {
	PROBLEM=
	url_scheme_set "$1"
	case $SCHEME in
	http | https | ftp | tftp) ;;
	*)
		PROBLEM="has scheme '${1%%://*}', not one of tftp, http, https, ftp"
		return 0
		;;
	esac
	case ${1#*://} in
	'' | /*) PROBLEM="names no host" ;;
	esac
}

url_dir() {
	case ${1#*://} in
	*/*) printf '%s/\n' "${1%/*}" ;;
	*) printf '%s/\n' "$1" ;;
	esac
}

# url_relative NAME: NAME without its leading "/" and "./" steps.
url_relative() {
	local name=$1
	while :; do
		case $name in
		/*) name=${name#/} ;;
		./*) name=${name#./} ;;
		*) break ;;
		esac
	done
	printf '%s\n' "$name"
}

url_join() {
	printf '%s%s\n' "$1" "$(url_relative "$2")"
}

url_location() {
	url_location_set "$1"
	printf '%s\n' "$LOCATION"
}

# url_location_set NAME: url_location's answer in LOCATION, in this shell.
url_location_set() {
	local rest
	url_scheme_set "$1"
	case $SCHEME in
	tftp)
		rest=${1#*://}
		LOCATION=${rest%%/*}::${rest#*/}
		;;
	*) LOCATION=$1 ;;
	esac
}

url_host() {
	local rest=${1#*://}
	rest=${rest%%/*}
	rest=${rest##*@}
	case $rest in
	\[*\]*) printf '%s]\n' "${rest%%]*}" ;;
	*) printf '%s\n' "${rest%:*}" ;;
	esac
}

loc_split() {
	case $1 in
	\[*\]::*)
		LOC_HOST=${1%%]::*}]
		LOC_PATH=${1#*]::}
		;;
	*::*)
		LOC_HOST=${1%%::*}
		LOC_PATH=${1#*::}
		;;
	*)
		LOC_HOST=''
		LOC_PATH=$1
		;;
	esac
}
