#!/usr/bin/env bash
# cluster.sh: two mirrored Strongroom nodes behind HAProxy, on loopback, for
# development and the mirroring tests.
#
#   cluster.sh up DIR               start (or restart) everything; wait until both
#                                   nodes serve TLS, mirror each other and HAProxy
#                                   answers; write DIR/env
#   cluster.sh down DIR             stop HAProxy, both servers and both PostgreSQL
#   cluster.sh stop-node DIR a|b    stop one node: its server, then its PostgreSQL
#   cluster.sh start-node DIR a|b   start it again and wait until it is mirrored
#   cluster.sh stop-db DIR a|b      stop only a node's PostgreSQL (its server's
#                                   health check then fails: HAProxy takes it out)
#   cluster.sh start-db DIR a|b     start that PostgreSQL again
#
# Everything is stopped by process id (pid files checked against the process's
# command line), never by name. Layout under DIR:
#   bin/strongroom      the server binary (unless $STRONGROOM_BIN is given)
#   a/ b/               one node each, laid out as deploy/dev/up.sh lays out its
#                       folder (lib.sh), plus pg-admin.password: the password
#                       of the superuser role "strongroom_admin" that mirroring
#                       needs on PostgreSQL 15 (CREATE SUBSCRIPTION), 0600
#   haproxy.cfg haproxy.pid lb.port   the load balancer
#   env                 STRONGROOM_ADDR_A, _B, _LB, the variables of up.sh's env
#                       (STRONGROOM_ADDR is the load balancer; the configuration,
#                       database and SoftHSM2 variables are node a's) and per
#                       node STRONGROOM_CONFIG_X, STRONGROOM_DATABASE_URL_X,
#                       STRONGROOM_ADMIN_DATABASE_URL_X, SOFTHSM2_CONF_X
#
# Both nodes share one KEK and MAC key, moved by the KEK ceremony before b's
# first init: node a's keys are made with `init --kek-exportable`; node b gets
# its own token, makes a transport key in it (`strongroom hsm transport-key`),
# node a wraps its KEK and MAC key under it with its SO PIN (`hsm kek-export`),
# and b unwraps them into its token (`hsm kek-import`). The files exchanged
# (b/transport.pem, b/kek.bundle) hold nothing secret. They also share one CA
# and one server certificate (b's certs/ is a copy of a's), valid for
# 127.0.0.1, so for both nodes' addresses and the load balancer's, and for the
# server name akmmongo.
#
# HAProxy passes TCP through (TLS ends on the nodes), balances round-robin and
# checks each node's health endpoint (HTTP GET /health on the port in
# NODE/health.port, config health_listen) every second: 200 only while the
# node's token, database and KMIP listener work, so a node whose PostgreSQL or
# HSM is gone is taken out even though its KMIP port still accepts. A
# connection refused by a dead node is redispatched to the other.
#
# Environment: STRONGROOM_BIN, STRONGROOM_READY_TIMEOUT (see up.sh),
# LB_PORT (load balancer port on first run; default a free one),
# STRONGROOM_MIRROR_TIMEOUT (seconds to wait for mirroring, default 60).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CL_NODES=(a b)
CL_MIRROR_TIMEOUT=${STRONGROOM_MIRROR_TIMEOUT:-60}

usage() {
	echo "usage: $0 up|down DIR | stop-node|start-node|stop-db|start-db DIR a|b" >&2
	exit 2
}

# cl_paths DIR: set the CL_* paths of the cluster folder.
cl_paths() {
	[[ -d $1 ]] || dev_die "$1 is not a folder"
	CL_DIR=$(cd "$1" && pwd -P)
	CL_HAPROXY_CFG=$CL_DIR/haproxy.cfg
	CL_HAPROXY_PID=$CL_DIR/haproxy.pid
	CL_LB_PORT_FILE=$CL_DIR/lb.port
	CL_BIN=$CL_DIR/bin/strongroom
}

# cl_node NAME: point lib.sh's DEV_* variables at node NAME's folder.
cl_node() {
	case $1 in a | b) ;; *) dev_die "unknown node '$1' (a or b)" ;; esac
	mkdir -p "$CL_DIR/$1"
	dev_paths "$CL_DIR/$1"
	DEV_NODE=$1
	DEV_ADMIN_PASS_FILE=$DEV_DIR/pg-admin.password
}

# cl_pg_admin: the superuser role mirroring needs (CREATE SUBSCRIPTION on
# PostgreSQL 15; it also serves as the peers' replication role), and
# pg_monitor for the serving role so that `mirror status` sees the walsenders'
# lag. Sets DEV_ADMIN_URL.
cl_pg_admin() {
	if [[ ! -s $DEV_ADMIN_PASS_FILE ]]; then
		dev_write_secret "$DEV_ADMIN_PASS_FILE" "$(dev_random_hex 24)"
	fi
	local pw
	pw=$(<"$DEV_ADMIN_PASS_FILE")
	printf '%s\n' \
		"SELECT 'CREATE ROLE strongroom_admin' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'strongroom_admin') \\gexec" \
		"ALTER ROLE strongroom_admin WITH LOGIN SUPERUSER REPLICATION PASSWORD '$pw';" \
		"SELECT 'GRANT pg_monitor TO strongroom' WHERE NOT pg_has_role('strongroom', 'pg_monitor', 'MEMBER') \\gexec" |
		dev_psql >/dev/null || dev_die "could not create the strongroom_admin role"
	DEV_ADMIN_URL="postgres://strongroom_admin:$pw@127.0.0.1:$(dev_pg_port)/strongroom?sslmode=disable"
}

# cl_ceremony NAME: move node a's KEK and MAC key into NAME's fresh token
# (see the header), once, before NAME's first init.
cl_ceremony() {
	[[ ! -f $DEV_DIR/kek.imported ]] || return 0
	local a=$CL_DIR/a log=$DEV_DIR/ceremony.log
	local tok=(--hsm-module "$SOFTHSM2_MODULE" --token-label "$DEV_TOKEN_LABEL"
		--pin-file "$DEV_PIN_FILE" --softhsm2-conf "$DEV_SOFTHSM2_CONF")
	dev_log "node $1: KEK ceremony with node a (log $log)"
	{
		"$DEV_BIN" --config "$DEV_DIR/none.json" hsm transport-key --out "$DEV_DIR/transport.pem" "${tok[@]}" &&
			"$DEV_BIN" --config "$a/strongroom.json" hsm kek-export --to "$DEV_DIR/transport.pem" \
				--so-pin-file "$a/token.sopin" --out "$DEV_DIR/kek.bundle" &&
			"$DEV_BIN" --config "$DEV_DIR/none.json" hsm kek-import "${tok[@]}" "$DEV_DIR/kek.bundle"
	} </dev/null >>"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		dev_die "node $1: KEK ceremony failed"
	}
	touch "$DEV_DIR/kek.imported"
}

# cl_prepare NAME: token, PostgreSQL, admin role, port and init of one node.
# Node a's keys are exportable; node b receives them by the KEK ceremony and
# copies a's certificates, once, before b's first init.
cl_prepare() {
	cl_node "$1"
	if [[ $1 != a && ! -e $DEV_CERTS ]]; then
		cp -a "$CL_DIR/a/certs" "$DEV_CERTS"
	fi
	dev_token
	if [[ $1 == a ]]; then
		DEV_KEK_EXPORTABLE=1
	else
		DEV_KEK_EXPORTABLE=
		[[ -f $DEV_CONFIG ]] || cl_ceremony "$1"
	fi
	dev_pg
	cl_pg_admin
	dev_kmip_port
	cl_health_port
	dev_init_server
}

# cl_health_port: the node's health check port, chosen once (NODE/health.port).
cl_health_port() {
	local f=$DEV_DIR/health.port p
	if [[ ! -s $f ]]; then
		# dev_free_port runs in a subshell, which inherits $RANDOM's state:
		# advance it here, or the KMIP port just chosen comes out again.
		p=$DEV_KMIP_PORT
		while [[ $p == "$DEV_KMIP_PORT" ]]; do
			: "$RANDOM"
			p=$(dev_free_port)
		done
		printf '%s\n' "$p" >"$f"
	fi
	DEV_HEALTH_PORT=$(<"$f")
	[[ $DEV_HEALTH_PORT =~ ^[0-9]+$ ]] || dev_die "bad health port '$DEV_HEALTH_PORT' in $f"
}

# cl_mirror NAME PEER: NAME subscribes to PEER. Both URLs travel through the
# environment and a pipe, never the command line.
cl_mirror() {
	cl_node "$2"
	dev_pg
	cl_pg_admin
	local peer_url=$DEV_ADMIN_URL
	cl_node "$1"
	dev_pg
	cl_pg_admin
	dev_log "node $1: mirror add $2"
	printf '%s\n' "$peer_url" |
		STRONGROOM_ADMIN_DATABASE_URL=$DEV_ADMIN_URL "$DEV_BIN" --config "$DEV_CONFIG" mirror add "$2" - \
			>>"$DEV_DIR/mirror.log" 2>&1 || {
		tail -n 20 "$DEV_DIR/mirror.log" >&2
		dev_die "node $1: strongroom mirror add $2 failed"
	}
}

# cl_wait_mirrored NAME: wait until NAME's `mirror status --check` passes:
# every peer's subscription runs, is seeded and heartbeats arrive.
cl_wait_mirrored() {
	cl_node "$1"
	local deadline=$((SECONDS + CL_MIRROR_TIMEOUT)) out
	until out=$("$DEV_BIN" --config "$DEV_CONFIG" mirror status --check 2>&1); do
		if ((SECONDS >= deadline)); then
			printf '%s\n' "$out" >&2
			dev_die "node $1 is not mirrored after $CL_MIRROR_TIMEOUT s"
		fi
		sleep 0.3
	done
}

# cl_haproxy_pid: the pid in haproxy.pid if that process is our HAProxy.
cl_haproxy_pid() {
	[[ -s $CL_HAPROXY_PID ]] || return 1
	local pid
	pid=$(head -n 1 "$CL_HAPROXY_PID")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $CL_HAPROXY_CFG" || return 1
	echo "$pid"
}

cl_stop_haproxy() {
	local pid i
	if pid=$(cl_haproxy_pid); then
		dev_log "stopping HAProxy (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$CL_HAPROXY_PID"
}

# cl_start_haproxy PORT_A PORT_B HEALTH_A HEALTH_B: write the configuration and start HAProxy
# (daemon, pid file) on the load balancer port. Sets CL_LB_PORT.
cl_start_haproxy() {
	command -v haproxy >/dev/null 2>&1 || dev_die "haproxy is not installed (run deploy/dev/install-deps.sh)"
	if [[ -n ${LB_PORT:-} ]]; then
		CL_LB_PORT=$LB_PORT
	elif [[ -s $CL_LB_PORT_FILE ]]; then
		CL_LB_PORT=$(<"$CL_LB_PORT_FILE")
	else
		CL_LB_PORT=$(dev_free_port)
	fi
	printf '%s\n' "$CL_LB_PORT" >"$CL_LB_PORT_FILE"
	cat >"$CL_HAPROXY_CFG" <<EOF
# Strongroom development cluster (deploy/dev/cluster.sh): KMIP over TLS passed
# through to two mirrored nodes that share one server certificate.
global
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    # Longer than the server's 15-minute idle timeout: the server, not the
    # balancer, decides when an idle KMIP connection ends.
    timeout client 16m
    timeout server 16m
    # A connection refused by a dead node is retried on the other.
    option redispatch
    retries 2

frontend kmip
    bind 127.0.0.1:$CL_LB_PORT
    default_backend strongroom

backend strongroom
    balance roundrobin
    # Health check: the node's HTTP health endpoint (token, database and KMIP
    # listener), every second; a node marked down drops its sessions.
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 1s fastinter 500ms downinter 1s rise 2 fall 2 on-marked-down shutdown-sessions
    server a 127.0.0.1:$1 check port $3
    server b 127.0.0.1:$2 check port $4
EOF
	haproxy -c -q -f "$CL_HAPROXY_CFG" || dev_die "haproxy rejects $CL_HAPROXY_CFG"
	cl_stop_haproxy
	dev_log "starting HAProxy on 127.0.0.1:$CL_LB_PORT"
	haproxy -D -f "$CL_HAPROXY_CFG" -p "$CL_HAPROXY_PID" </dev/null >/dev/null 2>&1 ||
		dev_die "haproxy did not start"
	local deadline=$((SECONDS + DEV_READY_TIMEOUT))
	DEV_KMIP_PORT=$CL_LB_PORT
	until dev_tls_ok; do
		((SECONDS < deadline)) || dev_die "no TLS through HAProxy on 127.0.0.1:$CL_LB_PORT within $DEV_READY_TIMEOUT s"
		sleep 0.2
	done
}

# cl_bin [build]: set DEV_BIN: $STRONGROOM_BIN if given, else DIR/bin/strongroom,
# built now when asked to or when missing.
cl_bin() {
	if [[ -z ${STRONGROOM_BIN:-} && -x $CL_BIN && ${1:-} != build ]]; then
		DEV_BIN=$CL_BIN
		return
	fi
	dev_paths "$CL_DIR"
	dev_build
}

cl_up() {
	umask 077
	mkdir -p "$1"
	((EUID != 0)) || chmod a+x "$1" # the postgres user must reach the nodes' folders
	cl_paths "$1"
	cl_bin build
	local n port_a port_b url_a url_b admin_a admin_b health_a health_b
	for n in "${CL_NODES[@]}"; do
		cl_prepare "$n"
		dev_start_server
	done
	cl_mirror a b
	cl_mirror b a
	for n in "${CL_NODES[@]}"; do
		cl_wait_mirrored "$n"
	done
	cl_node a
	port_a=$(<"$DEV_PORT_FILE")
	health_a=$(<"$DEV_DIR/health.port")
	dev_pg
	url_a=$DEV_DATABASE_URL
	cl_pg_admin
	admin_a=$DEV_ADMIN_URL
	cl_node b
	port_b=$(<"$DEV_PORT_FILE")
	health_b=$(<"$DEV_DIR/health.port")
	dev_pg
	url_b=$DEV_DATABASE_URL
	cl_pg_admin
	admin_b=$DEV_ADMIN_URL
	cl_start_haproxy "$port_a" "$port_b" "$health_a" "$health_b"

	# DIR/env: up.sh's variables with node a's files and the balancer's address.
	cl_node a
	dev_pg
	DEV_ENV=$CL_DIR/env
	DEV_KMIP_PORT=$CL_LB_PORT
	dev_write_env \
		"STRONGROOM_ADDR_A=127.0.0.1:$port_a" "STRONGROOM_ADDR_B=127.0.0.1:$port_b" \
		"STRONGROOM_ADDR_LB=127.0.0.1:$CL_LB_PORT" \
		"STRONGROOM_HEALTH_A=http://127.0.0.1:$health_a/health" "STRONGROOM_HEALTH_B=http://127.0.0.1:$health_b/health" \
		"STRONGROOM_CONFIG_A=$CL_DIR/a/strongroom.json" "STRONGROOM_CONFIG_B=$CL_DIR/b/strongroom.json" \
		"STRONGROOM_DATABASE_URL_A=$url_a" "STRONGROOM_DATABASE_URL_B=$url_b" \
		"STRONGROOM_ADMIN_DATABASE_URL_A=$admin_a" "STRONGROOM_ADMIN_DATABASE_URL_B=$admin_b" \
		"SOFTHSM2_CONF_A=$CL_DIR/a/softhsm2.conf" "SOFTHSM2_CONF_B=$CL_DIR/b/softhsm2.conf"
	dev_log "ready: nodes a 127.0.0.1:$port_a, b 127.0.0.1:$port_b, HAProxy 127.0.0.1:$CL_LB_PORT; use: . $DEV_ENV"
}

cl_down() {
	[[ -d $1 ]] || return 0
	cl_paths "$1"
	cl_stop_haproxy
	local n
	for n in "${CL_NODES[@]}"; do
		[[ -d $CL_DIR/$n ]] || continue
		cl_node "$n"
		dev_stop_server
		dev_stop_pg
	done
}

cl_stop_node() {
	cl_paths "$1"
	cl_node "$2"
	dev_stop_server
	dev_stop_pg
}

cl_stop_db() {
	cl_paths "$1"
	cl_node "$2"
	dev_stop_pg
}

cl_start_db() {
	cl_paths "$1"
	cl_node "$2"
	dev_pg
}

cl_start_node() {
	cl_paths "$1"
	cl_bin
	cl_node "$2"
	[[ -f $DEV_CONFIG ]] || dev_die "node $2 in $CL_DIR was never set up (cluster.sh up first)"
	dev_pg
	dev_kmip_port
	dev_start_server
	cl_wait_mirrored "$2"
}

[[ $# -ge 2 ]] || usage
case $1 in
up)
	[[ $# -eq 2 ]] || usage
	cl_up "$2"
	;;
down)
	[[ $# -eq 2 ]] || usage
	cl_down "$2"
	;;
stop-node)
	[[ $# -eq 3 ]] || usage
	cl_stop_node "$2" "$3"
	;;
start-node)
	[[ $# -eq 3 ]] || usage
	cl_start_node "$2" "$3"
	;;
stop-db)
	[[ $# -eq 3 ]] || usage
	cl_stop_db "$2" "$3"
	;;
start-db)
	[[ $# -eq 3 ]] || usage
	cl_start_db "$2" "$3"
	;;
*) usage ;;
esac
