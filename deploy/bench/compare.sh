#!/usr/bin/env bash
# compare.sh: regenerate docs/BENCHMARKS.md. In one run on this machine, with
# the same load generator (`strongroom bench`) and settings, it measures:
#   - Strongroom: a throwaway dev node (deploy/dev/up.sh: SoftHSM2, PostgreSQL
#     15 with fsync on, TLS 1.3 with client certificates);
#   - PyKMIP's server (Debian python3-pykmip, `pykmip-server`, TLS 1.2, SQLite
#     in a temp dir), with certificates from the same CA;
#   - the machine's limits: the bare TLS server of deploy/bench/ceiling
#     (canned responses of Strongroom's sizes), the raw HSM rates of the calls
#     one Get and one Create make (go test -bench ./hsm/pkcs11), and the raw
#     PostgreSQL rate of the INSERT transaction Create commits
#     (deploy/bench/pginsert).
#   - Get and Locate latency from 10^3 to 10^6 stored keys, and memory with
#     2,000 idle connections (deploy/bench/scale.sh; BENCH_SCALE=0 skips it).
# The Get and Create cells, which the targets compare, run BENCH_ROUNDS times
# (3), each round every target in turn: a shared machine's load drifts by
# ±15 % over minutes, so report.py judges the targets on each round's own
# ratios (the same minute's load on both servers) and reports their median.
# Settings: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_CONNS ("4 32"), BENCH_ROUNDS (3),
# BENCH_OUT (docs/BENCHMARKS.md). Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
dur=${BENCH_DURATION:-10s}
warm=${BENCH_WARMUP:-2s}
conns_list=${BENCH_CONNS:-4 32}
out=${BENCH_OUT:-$root/docs/BENCHMARKS.md}
first_conns=${conns_list%% *}

dir=$(mktemp -d /tmp/strongroom-compare-XXXXXX)
chmod 0711 "$dir"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	bash deploy/dev/down.sh "$dir/node" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
log() { echo "compare: $*" >&2; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	log "nothing listens on port $1"
	return 1
}

log "building"
go build -o "$dir/strongroom" ./cmd/strongroom
go build -o "$dir/ceiling" ./deploy/bench/ceiling
go build -o "$dir/pginsert" ./deploy/bench/pginsert
bench=$dir/strongroom

log "starting a Strongroom dev node"
STRONGROOM_BIN=$bench bash deploy/dev/up.sh "$dir/node" >"$dir/up.log" 2>&1 || {
	cat "$dir/up.log" >&2
	exit 1
}
# shellcheck source=/dev/null
. "$dir/node/env"
certs=$dir/node/certs

log "starting PyKMIP's server"
py_port=$(free_port)
mkdir -p "$dir/pykmip/policies"
cat >"$dir/pykmip/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$py_port
certificate_path=$certs/server-cert.pem
key_path=$certs/server-key.pem
ca_path=$certs/ca.pem
auth_suite=TLS1.2
policy_path=$dir/pykmip/policies
enable_tls_client_auth=True
logging_level=WARNING
database_path=$dir/pykmip/pykmip.db
CONF
/usr/bin/python3 /usr/bin/pykmip-server -f "$dir/pykmip/server.conf" -l "$dir/pykmip/server.log" >"$dir/pykmip/out.log" 2>&1 &
pids+=($!)
wait_port "$py_port"

log "starting the bare TLS server"
ceil_port=$(free_port)
"$dir/ceiling" --listen "127.0.0.1:$ceil_port" --cert "$certs/server-cert.pem" --key "$certs/server-key.pem" --ca "$certs/ca.pem" 2>"$dir/ceiling.log" &
pids+=($!)
wait_port "$ceil_port"

# tag TARGET: add "target" and the current round to the one-line JSON objects
# on stdin.
tag() { sed 's/^{/{"target":"'"$1"'","round":'"$round"',/'; }
round=1

results=$dir/results.jsonl
: >"$results"
# run TARGET ADDR OP CONNS [extra flags]
run() {
	local target=$1 addr=$2 op=$3 n=$4
	shift 4
	log "$target $op conns=$n $*"
	local j
	if ! j=$("$bench" bench --addr "$addr" --ca "$certs/ca.pem" --cert "$certs/admin-cert.pem" --key "$certs/admin-key.pem" \
		--server-name "$STRONGROOM_SERVER_NAME" --kmip-version 1.2 --op "$op" --conns "$n" \
		--duration "$dur" --warmup "$warm" --json "$@" 2>/dev/null); then
		log "$target $op failed"
		j='{"op":"'"$op"'","conns":'"$n"',"failed":true}'
	fi
	tag "$target" <<<"$j" >>"$results"
}

for round in $(seq "${BENCH_ROUNDS:-3}"); do
	for n in $conns_list; do
		for op in get create; do
			run ceiling "127.0.0.1:$ceil_port" $op "$n"
			run strongroom "$STRONGROOM_ADDR" $op "$n"
			run pykmip "127.0.0.1:$py_port" $op "$n"
		done
	done
done
round=1
# Gets going round more keys than the key cache holds (1 024 by default):
# the uncached path, an unwrap in the token per Get.
for n in $conns_list; do
	run strongroom "$STRONGROOM_ADDR" get "$n" --keys 4096
done
for op in encrypt get-attributes mongod locate; do
	run strongroom "$STRONGROOM_ADDR" $op "$first_conns"
	run pykmip "127.0.0.1:$py_port" $op "$first_conns"
done
# A fleet of databases: mostly start-ups' reads, some new keys and some
# encryption, in one run (report.py knows this mix by name).
mix=get=6,get-attributes=2,create=1,encrypt=1
for n in $conns_list; do
	run strongroom "$STRONGROOM_ADDR" "$mix" "$n"
	run pykmip "127.0.0.1:$py_port" "$mix" "$n"
done
run ceiling "127.0.0.1:$ceil_port" get "$first_conns" --new-conn-per-op
run strongroom "$STRONGROOM_ADDR" get "$first_conns" --new-conn-per-op
run pykmip "127.0.0.1:$py_port" get "$first_conns" --new-conn-per-op

log "raw PostgreSQL rate of Create's INSERT transaction"
like=$("$bench" key create --name compare-template | tail -1)
for n in $conns_list; do
	"$dir/pginsert" --config "$STRONGROOM_CONFIG" --like "$like" --conns "$n" --duration "$dur" |
		tag postgres >>"$results"
done

log "raw HSM rates (go test -bench ./hsm/pkcs11)"
go test -run='^$' -bench='^Benchmark(GenerateWrapped|Unwrap|MAC)$' -benchtime="${BENCH_HSM_TIME:-3s}" ./hsm/pkcs11/ |
	awk '/^Benchmark/ { n=$1; sub(/-[0-9]+$/, "", n); for (i=2;i<=NF;i++) if ($(i+1)=="ns/op") printf "{\"target\":\"hsm\",\"op\":\"%s\",\"ns_per_op\":%s}\n", n, $i }' >>"$results"

if [[ ${BENCH_SCALE:-1} != 0 ]]; then
	log "latency against stored keys, memory with idle connections (deploy/bench/scale.sh)"
	STRONGROOM_BIN=$bench BENCH_DURATION=$dur BENCH_WARMUP=$warm bash deploy/bench/scale.sh >>"$results" ||
		log "scale.sh failed"
fi

machine=$dir/machine.json
{
	echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "cores=$(nproc)"
	echo "mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	# shellcheck source=/dev/null
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
	echo "softhsm=$(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo '?')"
	echo "postgres=$(dpkg-query -W -f '${Version}' postgresql-15 2>/dev/null || echo '?')"
	echo "pykmip=$(dpkg-query -W -f '${Version}' python3-pykmip 2>/dev/null || echo '?')"
	echo "python=$(/usr/bin/python3 --version 2>&1)"
	echo "go=$(go env GOVERSION)"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date=$(date -u +%Y-%m-%d)"
	echo "duration=$dur"
	echo "warmup=$warm"
} >"$machine"

/usr/bin/python3 deploy/bench/report.py "$results" "$machine" >"$out.tmp"
mv "$out.tmp" "$out"
# The raw figures, so that report.py can be rerun on them:
# /usr/bin/python3 deploy/bench/report.py docs/benchmarks.jsonl docs/benchmarks-machine.txt
cp "$results" "$(dirname "$out")/benchmarks.jsonl"
cp "$machine" "$(dirname "$out")/benchmarks-machine.txt"
log "wrote $out"
