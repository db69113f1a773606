#!/bin/sh
# pxeboot: finds and boots a PXELINUX configuration the way syslinux's pxelinux.0 does,
# from inside a busybox initramfs: config lookup, LABEL/DEFAULT/APPEND/INITRD/IPAPPEND/
# INCLUDE rules, TFTP downloads, then kexec. See docs/pxelinux.md in the composer sources.
#
#   pxeboot                                   boot (facts from the udhcpc event script)
#   pxeboot --dry-run --tftp-root DIR [--work-dir DIR]
#                                             facts from the environment, files from DIR;
#                                             prints config= label= kernel= initrd= append=
#
# Installed as ROOT/sbin/pxeboot, it reads ROOT/etc/pxeboot.conf and the library in
# ROOT/lib/pxeboot/ (ROOT is / in the image, the directory `compose render` wrote on the
# build host). Copied by composer from templates/pxeboot.sh; POSIX sh (busybox ash, dash).

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
# shellcheck source=lib/pxeboot/fetch.sh
. "$PXE_LIB/fetch.sh"
# shellcheck source=lib/pxeboot/config.sh
. "$PXE_LIB/config.sh"
# shellcheck source=lib/pxeboot/choose.sh
. "$PXE_LIB/choose.sh"
# shellcheck source=lib/pxeboot/boot.sh
. "$PXE_LIB/boot.sh"

# No pathname expansion anywhere: config text and DHCP values are data, never patterns.
set -f

usage() {
	echo "usage: pxeboot [--dry-run --tftp-root DIR [--work-dir DIR]]" >&2
	exit 2
}

DRY_ROOT='' DRY_RUN=0 KEEP_WORK=''
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) DRY_RUN=1 ;;
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
	-h | --help) usage ;;
	*)
		echo "pxeboot: unknown argument '$1'" >&2
		usage
		;;
	esac
	shift
done
if [ "$DRY_RUN" = 1 ]; then
	[ -n "$DRY_ROOT" ] || usage
	[ -d "$DRY_ROOT" ] || die "--tftp-root $DRY_ROOT is not a directory"
	fetch_use dir "$DRY_ROOT"
else
	[ -z "$DRY_ROOT" ] || usage
	fetch_use tftp
fi
is_uint "$PXE_VERBOSITY" || PXE_VERBOSITY=1

if [ -n "$KEEP_WORK" ]; then
	WORK=$KEEP_WORK
	mkdir -p "$WORK" || die "cannot create work directory $WORK"
elif [ "$DRY_RUN" = 1 ]; then
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/pxeboot.XXXXXX") || die "cannot create a temporary directory"
	trap 'rm -rf "$WORK"' EXIT
else
	WORK=$PXE_STATE_DIR/files
	mkdir -p "$WORK" || die "cannot create work directory $WORK"
fi

# In the guest only the lease counts; the dry run takes the facts from the environment.
[ "$DRY_RUN" = 1 ] || facts_read_lease
facts_derive
config_find
hops=0
while :; do
	config_read "$CONFIG_LOCAL"
	choose_unattended
	if [ -n "$CHOICE_LABEL" ]; then
		entry_build_label "$CHOICE_LABEL"
	else
		entry_build "$CHOICE"
	fi
	[ "$ENTRY_TYPE" = config ] || break
	# CONFIG file [dir]: syslinux starts over with that file (and that directory as prefix).
	hops=$((hops + 1))
	[ "$hops" -le "$PXE_CONFIG_HOPS" ] || die "more than $PXE_CONFIG_HOPS CONFIG hops (a loop?)"
	say "label '$ENTRY_LABEL' loads configuration '$ENTRY_KERNEL'"
	dir=${ENTRY_KARGS%%[ 	]*}
	config_try "$ENTRY_KERNEL" || die "CONFIG '$ENTRY_KERNEL' of label '$ENTRY_LABEL' not found"
	if [ -n "$dir" ]; then
		location=$(resolve "$dir") || exit 1
		PREFIX=${location#*::}
	fi
done

case $ENTRY_TYPE in
kernel | linux) ;;
*) die "${ENTRY_LABEL:+label '$ENTRY_LABEL': }'$ENTRY_KERNEL' is a ${ENTRY_TYPE} entry; only Linux kernels (KERNEL/LINUX) can be booted here" ;;
esac
[ -n "$ENTRY_KERNEL" ] || die "${ENTRY_LABEL:+label '$ENTRY_LABEL'}: no kernel to boot"
entry_split

say "config $CONFIG_NAME: booting ${ENTRY_LABEL:+label '$ENTRY_LABEL' }from $CHOICE_FROM"
boot_fetch
if [ "$DRY_RUN" = 1 ]; then
	boot_report
	exit 0
fi
boot_kexec
