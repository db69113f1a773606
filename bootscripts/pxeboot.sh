#!/bin/sh
# pxeboot: finds and boots a PXELINUX configuration the way syslinux's pxelinux.0 does,
# from inside a busybox initramfs: config lookup, LABEL/DEFAULT/APPEND/INITRD/IPAPPEND/
# INCLUDE rules, TFTP, HTTP and FTP downloads, then kexec. See docs/pxelinux.md in the composer sources.
#
#   pxeboot                                   boot (facts from the udhcpc event script)
#   pxeboot --dry-run --tftp-root DIR [--work-dir DIR] [--answer TEXT]...
#                                             facts from the environment, files from DIR,
#                                             the operator's answers (one per prompt) from
#                                             --answer; prints config= label= kernel=
#                                             initrd= append= (or localboot=)
#   pxeboot --after-lease FIFO                (from /init, started before DHCP) reads its
#                                             library, then waits for "go" on FIFO
#                                             before the boot (anything else: exit 0)
#
# Installed as ROOT/sbin/pxeboot, it reads ROOT/etc/pxeboot.conf and the library in
# ROOT/lib/pxeboot/ (ROOT is / in the image, the directory `compose render` wrote on the
# build host). Copied by composer from bootscripts/pxeboot.sh; POSIX sh (busybox ash, dash).

case $0 in
*/sbin/pxeboot) PXE_ROOT=${0%/sbin/pxeboot} ;;
*/*) PXE_ROOT=${0%/*}/.. ;;
*) PXE_ROOT=.. ;;
esac
PXE_LIB=$PXE_ROOT/lib/pxeboot
PXE_TAG=pxeboot

if [ ! -r "$PXE_ROOT/etc/pxeboot.conf" ] || [ ! -d "$PXE_LIB" ]; then
	echo "pxeboot: error: no $PXE_ROOT/etc/pxeboot.conf or $PXE_LIB beside $0" >&2
	exit 1
fi
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=etc/pxeboot.conf
. "$PXE_ROOT/etc/pxeboot.conf"
# shellcheck source=lib/pxeboot/common.sh
. "$PXE_LIB/common.sh"
# shellcheck source=lib/pxeboot/facts.sh
. "$PXE_LIB/facts.sh"
# shellcheck source=lib/pxeboot/url.sh
. "$PXE_LIB/url.sh"
# shellcheck source=lib/pxeboot/transfer.sh
. "$PXE_LIB/transfer.sh"
# shellcheck source=lib/pxeboot/fetch.sh
. "$PXE_LIB/fetch.sh"
# shellcheck source=lib/pxeboot/config.sh
. "$PXE_LIB/config.sh"
# shellcheck source=lib/pxeboot/choose.sh
. "$PXE_LIB/choose.sh"
# shellcheck source=lib/pxeboot/boot.sh
. "$PXE_LIB/boot.sh"
# shellcheck source=lib/pxeboot/console.sh
. "$PXE_LIB/console.sh"

# need FILE: reads lib/pxeboot/FILE.sh the first time a boot needs it (once). A plain boot
# (no menu, no prompt, no signatures, no LOCALBOOT) never reads these four: under TCG the
# shell's reading of them was ~15 ms of every boot's CPU. Nor does a boot by TFTP alone
# read fetch-url.sh (curl's URLs), nor one without pxeboot.* on the command line
# ipconfig.sh: those two were ~8 ms more, spent while udhcpc waits for the CPU (the guest
# is never idle during DHCP). Until then, the stubs below stand for their functions: each
# reads its file (which replaces the stubs) and calls the real one, or answers at once
# what the file would answer when it is not needed.
NEEDED=''
need() {
	case " $NEEDED " in *" $1 "*) return 0 ;; esac
	NEEDED="$NEEDED $1"
	case $1 in
	verify)
		# shellcheck source=lib/pxeboot/verify.sh
		. "$PXE_LIB/verify.sh"
		;;
	prompt)
		# shellcheck source=lib/pxeboot/prompt.sh
		. "$PXE_LIB/prompt.sh"
		;;
	menu)
		need prompt
		# shellcheck source=lib/pxeboot/menu.sh
		. "$PXE_LIB/menu.sh"
		;;
	localboot)
		# shellcheck source=lib/pxeboot/localboot.sh
		. "$PXE_LIB/localboot.sh"
		;;
	fetch-url)
		# shellcheck source=lib/pxeboot/fetch-url.sh
		. "$PXE_LIB/fetch-url.sh"
		;;
	ipconfig)
		# shellcheck source=lib/pxeboot/ipconfig.sh
		. "$PXE_LIB/ipconfig.sh"
		;;
	esac
}
# Signatures off (the default): nothing to plan or check.
verify_plan() { [ "${PXE_SIGNATURES:-off}" = off ] || { need verify && verify_plan "$@"; }; }
verify_file() { [ "${PXE_SIGNATURES:-off}" = off ] || { need verify && verify_file "$@"; }; }
answers_add() { need prompt && answers_add "$@"; }
console_show() { need prompt && console_show "$@"; }
prompt_choose() { need prompt && prompt_choose "$@"; }
menu_choose() { need menu && menu_choose "$@"; }
localboot_run() { need localboot && localboot_run "$@"; }
# Before fetch-url.sh is read no URL was planned and no curl of it runs: a file by TFTP
# needs no place in the plan (a plan counts from its first URL file on), there is no
# batch to take a file from or to stop (unless a ticker was left for a watch).
fetch_via_url() { need fetch-url && fetch_via_url "$@"; }
url_plan() { url_is "$1" || return 0; need fetch-url && url_plan "$@"; }
url_plan_reset() { url_batch_stop; }
url_batch_next() { return 1; }
url_batch_stop() { [ -z "${TRANSFER_TICKER-}" ] || { need fetch-url && url_batch_stop; }; }
URL_BATCH_PID=''
ipconfig_parse() { need ipconfig && ipconfig_parse "$@"; }

# No pathname expansion anywhere: config text and DHCP values are data, never patterns.
set -f

usage() {
	echo "usage: pxeboot [--dry-run --tftp-root DIR [--work-dir DIR] [--answer TEXT]... | --after-lease FIFO]" >&2
	exit 2
}

DRY_ROOT='' DRY_RUN=0 KEEP_WORK='' LEASE_FIFO=''
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) DRY_RUN=1 ;;
	--after-lease)
		[ $# -ge 2 ] || usage
		LEASE_FIFO=$2
		shift
		;;
	--tftp-root)
		[ $# -ge 2 ] || usage
		DRY_ROOT=$2
		shift
		;;
	--work-dir)
		[ $# -ge 2 ] || usage
		KEEP_WORK=$2
		shift
		;;
	--answer)
		[ $# -ge 2 ] || usage
		case $2 in *"
"*) usage ;; esac
		answers_add "$2"
		shift
		;;
	-h | --help) usage ;;
	*)
		echo "pxeboot: unknown argument '$1'" >&2
		usage
		;;
	esac
	shift
done
if [ "$DRY_RUN" = 1 ]; then
	[ -n "$DRY_ROOT" ] && [ -z "$LEASE_FIFO" ] || usage
	PXE_SYSFS=${PXE_SYSFS:-/sys}
	[ -d "$DRY_ROOT" ] || die "--tftp-root $DRY_ROOT is not a directory"
	fetch_use dir "$DRY_ROOT"
else
	[ -z "$DRY_ROOT" ] && [ "${N_ANSWERS:-0}" = 0 ] || usage
	PXE_SYSFS=/sys
	fetch_use tftp
fi
is_uint "$PXE_VERBOSITY" || PXE_VERBOSITY=1
# Settings the shell computes with, some overridable from the kernel's command line: a
# value that is no number, or too long for 64-bit arithmetic, is not taken.
for setting in FETCH_TIMEOUT:30 HTTP_RETRIES:3 HTTP_RETRY_DELAY:2 FAILURE_PROMPT:15 \
	MEMORY_RESERVE_MB:32 PROGRESS_MIN_MB:4 PROGRESS_STEP_MB:10 TFTP_RETRIES:3 \
	TFTP_RETRY_DELAY:2 INCLUDE_DEPTH:16 HTTP_REDIRECTS:5; do
	eval "value=\${PXE_${setting%%:*}-}"
	if ! is_uint "$value" || [ "${#value}" -gt 6 ]; then
		[ -z "$value" ] || warn "PXE_${setting%%:*}='$value' is not a number up to 999999: taken as ${setting#*:}"
		eval "PXE_${setting%%:*}=${setting#*:}"
	fi
done

if [ -n "$KEEP_WORK" ]; then
	WORK=$KEEP_WORK
	mkdir -p "$WORK" || die "cannot create work directory $WORK"
elif [ "$DRY_RUN" = 1 ]; then
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/pxeboot.XXXXXX") || die "cannot create a temporary directory"
	trap 'rm -rf "$WORK"' EXIT
else
	WORK=$PXE_STATE_DIR/files # made by init's early start already (one mkdir for both)
	[ -d "$WORK" ] || mkdir -p "$WORK" || die "cannot create work directory $WORK"
fi
# fetch-url.sh's FIFO ($WORK/curl.fifo, for one curl of several files) with transfer.sh's,
# made ahead while DHCP runs (in the guest init's early start made both already).
transfer_prepare "$WORK/curl.fifo"

# Started by /init before DHCP: everything above ran while DHCP did; now the lease.
if [ -n "$LEASE_FIFO" ]; then
	lease=''
	read -r lease <"$LEASE_FIFO" || lease=''
	[ "$lease" = go ] || exit 0
fi
# In the guest only the lease counts; the dry run takes the facts from the environment.
[ "$DRY_RUN" = 1 ] || facts_read_lease
facts_derive
config_find
# One configuration at a time: a CONFIG label starts over with another. A failed boot says
# why, tries ONERROR once, and then shows the prompt (or menu) again: no dead end.
while :; do
	config_read "$CONFIG_LOCAL"
	[ "$DRY_RUN" = 1 ] && [ "${PXE_DRY_ENTRIES:-0}" = 1 ] && boot_report_entries
	console_choose
	console_boot "$CHOICE" "$CHOICE_LABEL" "$CHOICE_ARGS" && continue
	if [ -n "$C_ONERROR" ]; then
		CHOICE_FROM=ONERROR
		console_boot "$C_ONERROR $CHOICE" && continue
	fi
	console_failed "$CHOICE"
done
