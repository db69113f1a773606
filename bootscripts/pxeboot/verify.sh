# shellcheck shell=dash
# verify.sh: signed payloads over any transport, checked with Debian's gpgv as apt does.
#
# Each configuration file (INCLUDEs and CONFIG hops too), kernel and initrd part has a
# detached OpenPGP signature NAME.sig beside it (what `gpg --detach-sign NAME` writes),
# fetched from the same place as NAME, and checked against the image's keyring
# (PXE_SIGNING_KEYS, the recipe's signing_keys) before the file is used. This check is
# ours and runs whatever kexec does afterwards: Debian 12's s390x kernel has no
# KEXEC_FILE, so its own signature check (KEXEC_SIG) never runs there.
#
# PXE_SIGNATURES (the recipe's signatures) says what a missing or bad signature does:
#   off      nothing is fetched or checked;
#   warn     a console warning naming the file, and the file is used;
#   require  the file is refused: verify_file fails with VERIFY_ERROR, and the caller
#            ends that boot (a failed boot: the prompt again, or on_failure) or, for a
#            configuration, the whole lookup.
# An initrd part is checked where it sits in the one initrd file (OFFSET), streamed to
# gpgv: no second copy of an installer-sized file.
#
# Exports: verify_file LOCAL LOCATION [OFFSET]   0 when LOCAL (from byte OFFSET on)
#                                     verifies, or the policy lets it pass; 1 refused,
#                                     VERIFY_ERROR then says why, as a phrase that follows
#                                     the file's name. The signature is fetched into
#                                     LOCAL.sig (and removed after the check);
#          verify_plan LOCAL LOCATION   tells url_plan (fetch-url.sh) of that .sig, in
#                                     the order boot_fetch asks for its files.
# Reads:   PXE_SIGNATURES PXE_SIGNING_KEYS, PXE_ROOT, WORK; fetch and shown (fetch.sh),
#          url_plan (fetch-url.sh).

# verify_gpgv LOCAL OFFSET SIG: gpgv's status lines for SIG over LOCAL from OFFSET on.
verify_gpgv() {
	local keys="$PXE_ROOT$PXE_SIGNING_KEYS"
	# --homedir: nothing of the host's or root's own GnuPG setup takes part.
	if [ "$2" = 0 ]; then
		gpgv --homedir "$WORK/gnupg" --status-fd 1 --keyring "$keys" "$3" "$1" 2>/dev/null
	else
		tail -c +$(($2 + 1)) "$1" |
			gpgv --homedir "$WORK/gnupg" --status-fd 1 --keyring "$keys" "$3" - 2>/dev/null
	fi
}

# verify_reason STATUS: why gpgv's status lines are not a good signature (nothing if
# they are one).
verify_reason() {
	local word key
	printf '%s\n' "$1" | while read -r _ word key _; do
		case $word in
		VALIDSIG) echo good ;;
		BADSIG) echo "bad signature (by key $key): the file is not what was signed" ;;
		NO_PUBKEY) echo "signed by key $key, which is not in the image's signing_keys" ;;
		EXPKEYSIG) echo "signed by key $key, which has expired" ;;
		REVKEYSIG) echo "signed by key $key, which was revoked" ;;
		NODATA) echo "has a .sig that is not an OpenPGP signature" ;;
		esac
	done | awk '$0 != "good" { print; bad = 1; exit } END { if (!bad && NR == 0) print "gpgv found no signature" }'
}

# verify_plan LOCAL LOCATION: the .sig verify_file LOCAL LOCATION will fetch, planned
# (nothing when signatures are off).
verify_plan() {
	case ${PXE_SIGNATURES:-off} in
	warn | require) url_plan "$2.sig" "$1.sig" ;;
	esac
}

# verify_check LOCAL LOCATION OFFSET: 0 good; 1 not, VERIFY_ERROR says why.
verify_check() {
	local sig="$1.sig" status append=${FETCH_APPEND:-0}
	FETCH_APPEND=0
	fetch "$2.sig" "$sig"
	status=$?
	FETCH_APPEND=$append
	case $status in
	0) ;;
	1)
		VERIFY_ERROR="has no signature: '$(shown "$2").sig' $FETCH_ERROR"
		return 1
		;;
	*)
		VERIFY_ERROR="has no signature: cannot fetch '$(shown "$2").sig' $FETCH_ERROR"
		return 1
		;;
	esac
	status=$(verify_gpgv "$1" "$3" "$sig")
	VERIFY_ERROR=$(verify_reason "$status")
	rm -f "$sig"
	[ -z "$VERIFY_ERROR" ] || return 1
	debug "'$(shown "$2")': good signature by $(printf '%s\n' "$status" | awk '$2 == "VALIDSIG" { print $3; exit }')"
	return 0
}

verify_file() {
	case ${PXE_SIGNATURES:-off} in
	off) return 0 ;;
	warn | require) ;;
	*)
		VERIFY_ERROR="cannot be checked: PXE_SIGNATURES is '$PXE_SIGNATURES', not off, warn or require"
		return 1
		;;
	esac
	verify_check "$1" "$2" "${3:-0}" && return 0
	if [ "$PXE_SIGNATURES" = warn ]; then
		warn "'$(shown "$2")' $VERIFY_ERROR: used anyway (signatures: warn)"
		return 0
	fi
	VERIFY_ERROR="$VERIFY_ERROR: refused (signatures: require)"
	return 1
}
