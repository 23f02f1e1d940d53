#!/usr/bin/env bash
# bench.sh: the figures of docs/BENCHMARKS.md. Starts a throwaway node
# (SoftHSM2 token, PostgreSQL, server) with up.sh, runs `strongroom bench`
# against it over mutually authenticated TLS, then the Go micro-benchmarks of
# the HSM layer and the TLS transport, all in one run so that the figures are
# comparable on a shared, noisy machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dir=$(mktemp -d /tmp/strongroom-bench-XXXXXX)
chmod 0711 "$dir"
cleanup() {
	bash deploy/dev/down.sh "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
bash deploy/dev/up.sh "$dir" >/dev/null
# shellcheck source=/dev/null
. "$dir/env"
echo "== KMIP over TLS, one request per message (strongroom bench)"
"$STRONGROOM_BIN" bench --duration "${BENCH_DURATION:-5s}" --clients 1 --clients 4
echo
echo "== HSM layer (SoftHSM2) and TLS transport micro-benchmarks"
go test -run='^$' -bench=. -benchmem -benchtime="${BENCH_TIME:-2s}" ./hsm/... ./kmip/server/... ./kmip/client/...
