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
#                                 as a phrase that follows the URL;
#          url_dir URL            prints URL up to its last "/" after the host (the
#                                 directory relative names of a file at URL resolve in);
#          url_join PREFIX NAME   prints the URL a relative NAME has under a URL PREFIX;
#          url_location NAME      prints the location of an absolute URL: HOST::PATH for
#                                 tftp://, the URL itself otherwise;
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

url_scheme() { printf '%s\n' "${1%%://*}" | tr 'A-Z' 'a-z'; }

url_check() {
	local rest=${1#*://}
	case $(url_scheme "$1") in
	http | https | ftp | tftp) ;;
	*)
		echo "has scheme '${1%%://*}', not one of tftp, http, https, ftp"
		return 0
		;;
	esac
	case $rest in
	'' | /*) echo "names no host" ;;
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
	local rest
	case $(url_scheme "$1") in
	tftp)
		rest=${1#*://}
		printf '%s::%s\n' "${rest%%/*}" "${rest#*/}"
		;;
	*) printf '%s\n' "$1" ;;
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
