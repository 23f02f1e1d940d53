#!/usr/bin/env bash
# conformance.sh: docs/CONFORMANCE.md. Starts a throwaway node (SoftHSM2
# token, PostgreSQL, server) with up.sh, replays the OASIS KMIP test cases
# with `strongroom conformance`, writes the document and stops the node.
#   1. the mandatory cases of the profiles Strongroom claims, KMIP 1.4 and 2.1;
#   2. the optional cases (reported, not claimed);
#   3. the mandatory cases of profiles not claimed (reported).
# The MSGENC-* files are replayed over KMIP over HTTPS (the node is restarted
# with an https_listen address): MSGENC-HTTPS with TTLV bodies, MSGENC-JSON
# with JSON, MSGENC-XML with XML; all others as TTLV over TLS. The reason
# column of failing files comes from docs/conformance-reasons.txt.
# Failing files are recorded in the document, not a failure of this script
# (--report-only); a node that does not start, an unreachable server or
# missing test cases are.
#
# Environment: KMIP_VECTORS (default ../shared/kmip-vectors beside the
# clone), CONFORMANCE_DOC (default docs/CONFORMANCE.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

claimed='BL,SKLC,SKFF,CS-BC,CS-AC,CS-RNG,OMOS,AKLC,AX,TL,SASED,MSGENC-*'
vectors=${KMIP_VECTORS:-../shared/kmip-vectors}
doc=${CONFORMANCE_DOC:-docs/CONFORMANCE.md}
reasons=docs/conformance-reasons.txt
for d in v1.4/mandatory v2.1/mandatory v1.4/optional v2.1/optional; do
	[[ -d $vectors/$d ]] || {
		echo "conformance: no test cases in $vectors/$d (set KMIP_VECTORS)" >&2
		exit 1
	}
done

dir=$(mktemp -d /tmp/strongroom-conformance-XXXXXX)
chmod 0711 "$dir"
cleanup() {
	bash deploy/dev/down.sh "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
bash deploy/dev/up.sh "$dir" >/dev/null
# shellcheck source=/dev/null
. "$dir/env"
# KMIP over HTTPS for the MSGENC files: add https_listen to the node's
# configuration and restart it (up.sh reuses the token, database and keys).
# shellcheck source=/dev/null
https_port=$(. deploy/dev/lib.sh && dev_free_port)
sed -i -e '/^ *"https_listen":/d' \
	-e "s|^\\( *\\)\"listen\": *\"[^\"]*\",\$|&\\n\\1\"https_listen\": \"127.0.0.1:$https_port\",|" "$STRONGROOM_CONFIG"
grep -q '"https_listen"' "$STRONGROOM_CONFIG" || {
	echo "conformance: could not add https_listen to $STRONGROOM_CONFIG" >&2
	exit 1
}
bash deploy/dev/up.sh "$dir" >/dev/null

run() {
	"$STRONGROOM_BIN" conformance --report-only --markdown "$doc" --markdown-command "make conformance" \
		--markdown-reasons "$reasons" \
		--profile-transport MSGENC-HTTPS=https-ttlv,MSGENC-JSON=https-json,MSGENC-XML=https-xml "$@"
}
echo "== mandatory test cases of the claimed profiles ($claimed)"
run --markdown-title "Mandatory test cases of the claimed profiles" --profile "$claimed" \
	"$vectors/v1.4/mandatory" "$vectors/v2.1/mandatory"
echo
echo "== optional test cases (reported, not claimed)"
run --markdown-append --markdown-title "Optional test cases (reported, not claimed)" \
	"$vectors/v1.4/optional" "$vectors/v2.1/optional"
echo
echo "== mandatory test cases of profiles not claimed (reported)"
run --markdown-append --markdown-title "Mandatory test cases of profiles not claimed (reported)" --exclude-profile "$claimed" \
	"$vectors/v1.4/mandatory" "$vectors/v2.1/mandatory"
echo
echo "conformance: wrote $doc"
