#!/usr/bin/env bash
# scale.sh: Get and Locate latency against the number of stored keys, and the
# server's memory with many idle connections (issue 6: "latency flat from
# 10^3 to 10^6 stored keys; memory under 200 MB with 2,000 idle
# connections"). Prints one JSON object per measurement on stdout, each
# tagged with "target":"scale" and "stored" (or "target":"idle"); compare.sh
# folds them into docs/BENCHMARKS.md.
#
# Filling a table to 10^6 keys through KMIP would take most of an hour, so
# the filler rows are copies, made in SQL, of one real key's row and events
# with new identifiers and names. They are never fetched (their row MACs
# bind the template's identifier, so a Get of one would be refused); they make
# the tables and their indexes as large as a real store of that size. The
# measured keys are real ones that `strongroom bench` creates.
#
# Settings: SCALE_SIZES ("1000 10000 100000 1000000"), SCALE_IDLE (2000),
# BENCH_DURATION (10s), BENCH_WARMUP (2s), SCALE_CONNS (4); STRONGROOM_BIN: a
# built binary (else one is built).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
sizes=${SCALE_SIZES:-1000 10000 100000 1000000}
idle=${SCALE_IDLE:-2000}
dur=${BENCH_DURATION:-10s}
warm=${BENCH_WARMUP:-2s}
conns=${SCALE_CONNS:-4}
log() { echo "scale: $*" >&2; }

dir=$(mktemp -d /tmp/strongroom-scale-XXXXXX)
chmod 0711 "$dir"
cleanup() {
	bash deploy/dev/down.sh "$dir/node" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

bin=${STRONGROOM_BIN:-}
if [[ -z $bin ]]; then
	log "building"
	go build -o "$dir/strongroom" ./cmd/strongroom
	bin=$dir/strongroom
fi

# Each idle connection is a file descriptor in the server and in the load
# generator; the server's own limit is max_connections.
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=65536
ulimit -n "$hard"
((hard > 2 * idle + 512)) || log "warning: open files limit $hard is low for $idle idle connections"
log "starting a Strongroom dev node"
mkdir -p "$dir/node"
STRONGROOM_BIN=$bin bash deploy/dev/up.sh "$dir/node" >"$dir/up.log" 2>&1 || {
	cat "$dir/up.log" >&2
	exit 1
}
/usr/bin/python3 - "$dir/node/strongroom.json" "$((idle + 256))" <<'PY'
import json, sys
p, n = sys.argv[1], int(sys.argv[2])
c = json.load(open(p))
c["max_connections"] = max(c.get("max_connections", 0), n)
json.dump(c, open(p, "w"), indent=2)
PY
STRONGROOM_BIN=$bin bash deploy/dev/up.sh "$dir/node" >>"$dir/up.log" 2>&1 || {
	cat "$dir/up.log" >&2
	exit 1
}
# shellcheck source=/dev/null
. "$dir/node/env"
certs=$dir/node/certs
psql() { command psql "$STRONGROOM_DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

like=$("$bin" key create --name scale-template | tail -n 1)
"$bin" key activate "$like" >/dev/null

bench() {
	"$bin" bench --addr "$STRONGROOM_ADDR" --ca "$certs/ca.pem" --cert "$certs/admin-cert.pem" --key "$certs/admin-key.pem" \
		--server-name "$STRONGROOM_SERVER_NAME" --kmip-version 1.2 --duration "$dur" --warmup "$warm" --json "$@" 2>/dev/null
}
# tag KEY=VALUE...: add fields to the one-line JSON objects on stdin.
tag() {
	local f=""
	for kv in "$@"; do f+="\"${kv%%=*}\":${kv#*=},"; done
	sed 's/^{/{'"$f"'/'
}

for n in $sizes; do
	have=$(psql -c "SELECT count(*) FROM objects")
	while ((have < n)); do
		chunk=$((n - have))
		((chunk > 200000)) && chunk=200000
		log "filling to $((have + chunk)) stored keys"
		psql -v like="$like" -v chunk="$chunk" -v base="$have" <<'SQL'
WITH ins AS (
  INSERT INTO objects (uid, origin_node, object_type, algorithm, length, kek, mechanism, blob,
                       blob_length, attributes, created_at, mac, names)
  SELECT gen_random_uuid(), o.origin_node, o.object_type, o.algorithm, o.length, o.kek, o.mechanism,
         o.blob, o.blob_length, o.attributes, o.created_at, o.mac,
         ARRAY['scale-filler-' || (:base + g)]
  FROM objects o, generate_series(1, :chunk) g
  WHERE o.uid = :'like'
  RETURNING uid)
INSERT INTO object_events (id, uid, origin_node, clock, kind, payload, created_at, mac, names, scrubs)
SELECT gen_random_uuid(), ins.uid, e.origin_node, e.clock, e.kind, e.payload, e.created_at, e.mac, '{}', e.scrubs
FROM ins, object_events e
WHERE e.uid = :'like';
SQL
		have=$(psql -c "SELECT count(*) FROM objects")
	done
	psql -c "VACUUM ANALYZE objects, object_events" >/dev/null
	for op in get locate; do
		log "$op with $have stored keys"
		bench --op "$op" --conns "$conns" | tag target='"scale"' stored="$have"
	done
done

# Memory: the server's resident set before, and at its largest while $idle
# idle connections are held and Gets run on $conns others.
pid=$(<"$dir/node/strongroom.pid")
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
before=$(rss_kib)
log "get with $idle idle connections held"
bench --op get --conns "$conns" --idle "$idle" >"$dir/idle.json" &
bp=$!
peak=$before
while kill -0 "$bp" 2>/dev/null; do
	r=$(rss_kib)
	((r > peak)) && peak=$r
	sleep 0.5
done
wait "$bp"
tag target='"idle"' rss_before_mib="$((before / 1024))" rss_peak_mib="$((peak / 1024))" <"$dir/idle.json"
