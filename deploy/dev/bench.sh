#!/usr/bin/env bash
# bench.sh: a quick look at one dev node (get and create at 1 and 4
# connections, then the HSM and TLS micro-benchmarks). The side-by-side
# figures of docs/BENCHMARKS.md come from deploy/bench/compare.sh (make bench).
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
for n in 1 4; do
	for op in create get; do
		"$STRONGROOM_BIN" bench --op "$op" --conns "$n" --duration "${BENCH_DURATION:-5s}" --warmup 1s 2>/dev/null
	done
done
echo
echo "== HSM layer (SoftHSM2) and TLS transport micro-benchmarks"
go test -run='^$' -bench=. -benchmem -benchtime="${BENCH_TIME:-2s}" ./hsm/... ./kmip/server/... ./kmip/client/...
