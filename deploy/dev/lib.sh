# shellcheck shell=bash
# lib.sh: the development environment's set-up, shared by up.sh, run.sh and
# down.sh. Sourced, never run; callers have `set -euo pipefail`.
#
# Everything lives under one folder DIR:
#   bin/strongroom        the server binary (unless $STRONGROOM_BIN is given)
#   softhsm2.conf tokens/ SoftHSM2 configuration and token store
#   token.pin token.sopin token PINs (0600; never printed)
#   pg/ pg-run/ pg.log    PostgreSQL 15 cluster, its socket folder, its log
#   pg.password           password of the database role "strongroom" (0600)
#   strongroom.json certs/ written by `strongroom init`
#   strongroom.log strongroom.pid  the background server (up.sh)
#   kmip.port             the KMIP port chosen the first time
#   env                   shell assignments for clients and tests
#
# Secrets (PINs, the database password) go to 0600 files and through pipes,
# never to the terminal. Two of them do appear on command lines for a moment:
# softhsm2-util takes the new PINs only as arguments, and `strongroom init`
# takes the database URL (which holds the password) as a flag. That is
# acceptable for a development machine only.

DEV_SERVER_NAME=akmmongo
DEV_TOKEN_LABEL=strongroom
DEV_NODE=node1
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
SOFTHSM2_MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
DEV_READY_TIMEOUT=${STRONGROOM_READY_TIMEOUT:-30}

dev_log() { printf 'dev: %s\n' "$*"; }
dev_die() {
	printf 'dev: error: %s\n' "$*" >&2
	exit 1
}

# dev_paths DIR: set the DEV_* paths for DIR (which must exist).
dev_paths() {
	[[ -n ${1:-} ]] || dev_die "no data folder given"
	[[ -d $1 ]] || dev_die "$1 is not a folder"
	DEV_DIR=$(cd "$1" && pwd -P)
	DEV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
	DEV_CERTS=$DEV_DIR/certs
	DEV_CONFIG=$DEV_DIR/strongroom.json
	DEV_PIN_FILE=$DEV_DIR/token.pin
	DEV_SOPIN_FILE=$DEV_DIR/token.sopin
	DEV_SOFTHSM2_CONF=$DEV_DIR/softhsm2.conf
	DEV_TOKENS=$DEV_DIR/tokens
	DEV_PGDATA=$DEV_DIR/pg
	DEV_PGRUN=$DEV_DIR/pg-run
	DEV_PGLOG=$DEV_DIR/pg.log
	DEV_PGPASS_FILE=$DEV_DIR/pg.password
	DEV_SERVER_LOG=$DEV_DIR/strongroom.log
	DEV_SERVER_PID=$DEV_DIR/strongroom.pid
	DEV_PORT_FILE=$DEV_DIR/kmip.port
	DEV_ENV=$DEV_DIR/env
}

dev_random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# dev_write_secret FILE VALUE: write VALUE to FILE (mode 0600) atomically.
dev_write_secret() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	chmod 600 "$tmp"
	printf '%s\n' "$2" >"$tmp"
	mv -f "$tmp" "$1"
}

# dev_free_port: a TCP port nobody uses on this machine, below the kernel's
# ephemeral range so that outgoing connections do not take it meanwhile.
dev_free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		if ! ss -Htan "( sport = :$p )" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	dev_die "found no free TCP port"
}

dev_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then
		echo /usr/local/go/bin/go
	else
		dev_die "Go is not installed (looked on PATH and in /usr/local/go/bin)"
	fi
}

# dev_build: set DEV_BIN, building the server unless $STRONGROOM_BIN names one.
dev_build() {
	if [[ -n ${STRONGROOM_BIN:-} ]]; then
		[[ -x $STRONGROOM_BIN ]] || dev_die "STRONGROOM_BIN=$STRONGROOM_BIN is not an executable"
		DEV_BIN=$(cd "$(dirname "$STRONGROOM_BIN")" && pwd -P)/$(basename "$STRONGROOM_BIN")
		dev_log "using $DEV_BIN (STRONGROOM_BIN is set)"
		return
	fi
	local go
	go=$(dev_go)
	mkdir -p "$DEV_DIR/bin"
	dev_log "building $DEV_DIR/bin/strongroom"
	(cd "$DEV_REPO" && "$go" build -o "$DEV_DIR/bin/strongroom" ./cmd/strongroom) ||
		dev_die "go build ./cmd/strongroom failed"
	DEV_BIN=$DEV_DIR/bin/strongroom
}

dev_token_exists() {
	softhsm2-util --show-slots 2>/dev/null |
		awk -v want="$DEV_TOKEN_LABEL" '$1 == "Label:" && $2 == want { found = 1 } END { exit !found }'
}

# dev_token: a SoftHSM2 configuration and a token labelled "strongroom"
# under DIR, made once.
dev_token() {
	[[ -e $SOFTHSM2_MODULE ]] || dev_die "no PKCS#11 module at $SOFTHSM2_MODULE (run deploy/dev/install-deps.sh)"
	if [[ ! -f $DEV_SOFTHSM2_CONF ]]; then
		mkdir -p "$DEV_TOKENS"
		cat >"$DEV_SOFTHSM2_CONF" <<EOF
# SoftHSM2 configuration of the Strongroom development environment.
directories.tokendir = $DEV_TOKENS
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
EOF
	fi
	export SOFTHSM2_CONF=$DEV_SOFTHSM2_CONF
	if dev_token_exists; then
		[[ -s $DEV_PIN_FILE ]] || dev_die "the token exists but $DEV_PIN_FILE is missing"
		return
	fi
	dev_log "creating SoftHSM2 token '$DEV_TOKEN_LABEL' in $DEV_TOKENS"
	local pin sopin out
	pin=$(dev_random_hex 16)
	sopin=$(dev_random_hex 16)
	dev_write_secret "$DEV_PIN_FILE" "$pin"
	dev_write_secret "$DEV_SOPIN_FILE" "$sopin"
	# The output names the slot, never a PIN; keep it for a failure message.
	if ! out=$(softhsm2-util --init-token --free --label "$DEV_TOKEN_LABEL" --so-pin "$sopin" --pin "$pin" 2>&1 </dev/null); then
		printf '%s\n' "$out" >&2
		dev_die "softhsm2-util --init-token failed"
	fi
}

# dev_as_pg CMD...: run CMD as the owner of the cluster. PostgreSQL refuses to
# run as root, so root runs it as the "postgres" user from `/`, where that
# user can always stand.
dev_as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

dev_pg_owner() {
	if ((EUID == 0)); then echo postgres; else id -un; fi
}

# dev_pg_reachable: as root, make DIR traversable and check that the postgres
# user can reach it; say which parent folder blocks it otherwise.
dev_pg_reachable() {
	((EUID == 0)) || return 0
	id postgres >/dev/null 2>&1 || dev_die "there is no postgres user (install postgresql-15)"
	chmod a+x "$DEV_DIR"
	if ! (cd / && runuser -u postgres -- test -x "$DEV_DIR"); then
		local d=$DEV_DIR
		while [[ $d != / ]]; do
			d=$(dirname "$d")
			if ! (cd / && runuser -u postgres -- test -x "$d"); then
				dev_die "the postgres user cannot reach $DEV_DIR because $d is not traversable; use a data folder elsewhere (e.g. under /var/tmp) or run: chmod o+x $d"
			fi
		done
		dev_die "the postgres user cannot reach $DEV_DIR"
	fi
}

dev_pg_port() {
	sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$DEV_PGDATA/postgresql.conf" | tail -n 1
}

dev_psql() {
	dev_as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DEV_PGRUN" -p "$(dev_pg_port)" -d postgres
}

dev_pg_running() {
	[[ -f $DEV_PGDATA/PG_VERSION ]] && dev_as_pg "$PG_BINDIR/pg_ctl" -D "$DEV_PGDATA" status >/dev/null 2>&1
}

# dev_pg: a PostgreSQL 15 cluster in DIR/pg listening on 127.0.0.1 only
# (scram-sha-256 over TCP, peer on its private socket), started, with a role
# and a database "strongroom". Sets DEV_DATABASE_URL.
dev_pg() {
	[[ -x $PG_BINDIR/initdb ]] || dev_die "no PostgreSQL 15 in $PG_BINDIR (run deploy/dev/install-deps.sh)"
	dev_pg_reachable
	local owner
	owner=$(dev_pg_owner)
	if [[ ! -f $DEV_PGDATA/PG_VERSION ]]; then
		local port=${PG_PORT:-}
		[[ -n $port ]] || port=$(dev_free_port)
		dev_log "creating PostgreSQL cluster in $DEV_PGDATA (port $port)"
		rm -rf "$DEV_PGDATA" # a half-made cluster from an interrupted run
		mkdir -p "$DEV_PGDATA" "$DEV_PGRUN"
		chown "$owner" "$DEV_PGDATA" "$DEV_PGRUN"
		chmod 700 "$DEV_PGDATA" "$DEV_PGRUN"
		if ! dev_as_pg "$PG_BINDIR/initdb" -D "$DEV_PGDATA" -E UTF8 --locale=C.UTF-8 \
			--auth-local=peer --auth-host=scram-sha-256 >"$DEV_DIR/pg-initdb.log" 2>&1; then
			cat "$DEV_DIR/pg-initdb.log" >&2
			dev_die "initdb failed"
		fi
		cat >>"$DEV_PGDATA/postgresql.conf" <<EOF

# Strongroom development environment (deploy/dev/lib.sh)
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DEV_PGRUN'
password_encryption = scram-sha-256
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
EOF
	fi
	if ! dev_pg_running; then
		touch "$DEV_PGLOG"
		chown "$owner" "$DEV_PGLOG"
		chmod 600 "$DEV_PGLOG"
		dev_log "starting PostgreSQL on 127.0.0.1:$(dev_pg_port) (log $DEV_PGLOG)"
		if ! dev_as_pg "$PG_BINDIR/pg_ctl" -D "$DEV_PGDATA" -l "$DEV_PGLOG" -w -t 60 start >/dev/null; then
			tail -n 20 "$DEV_PGLOG" >&2
			dev_die "PostgreSQL did not start"
		fi
	fi
	if [[ ! -s $DEV_PGPASS_FILE ]]; then
		dev_write_secret "$DEV_PGPASS_FILE" "$(dev_random_hex 24)"
	fi
	local pw
	pw=$(<"$DEV_PGPASS_FILE")
	# Through a pipe, not argv; the password is hex, so it needs no quoting.
	# Re-setting it every time keeps the role in step with the file.
	printf '%s\n' \
		"SELECT 'CREATE ROLE strongroom' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'strongroom') \\gexec" \
		"ALTER ROLE strongroom WITH LOGIN PASSWORD '$pw';" \
		"SELECT 'CREATE DATABASE strongroom OWNER strongroom' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'strongroom') \\gexec" |
		dev_psql >/dev/null || dev_die "could not create the strongroom role and database"
	DEV_DATABASE_URL="postgres://strongroom:$pw@127.0.0.1:$(dev_pg_port)/strongroom?sslmode=disable"
}

dev_stop_pg() {
	if dev_pg_running; then
		dev_log "stopping PostgreSQL"
		dev_as_pg "$PG_BINDIR/pg_ctl" -D "$DEV_PGDATA" -m fast -w -t 60 stop >/dev/null
	fi
}

# dev_kmip_port: KMIP_PORT, else the port chosen on an earlier run, else a
# free one. Sets DEV_KMIP_PORT.
dev_kmip_port() {
	if [[ -n ${KMIP_PORT:-} ]]; then
		DEV_KMIP_PORT=$KMIP_PORT
	elif [[ -s $DEV_PORT_FILE ]]; then
		DEV_KMIP_PORT=$(<"$DEV_PORT_FILE")
	else
		DEV_KMIP_PORT=$(dev_free_port)
	fi
	[[ $DEV_KMIP_PORT =~ ^[0-9]+$ ]] || dev_die "bad KMIP port '$DEV_KMIP_PORT'"
	printf '%s\n' "$DEV_KMIP_PORT" >"$DEV_PORT_FILE"
}

# dev_init_server: `strongroom init`, which is idempotent: a second run reuses
# the configuration, certificates, token keys and schema. --config is the
# application's global flag, so it goes before the subcommand.
dev_init_server() {
	dev_log "strongroom init (log $DEV_DIR/init.log)"
	if ! "$DEV_BIN" --config "$DEV_CONFIG" init \
		--certs "$DEV_CERTS" \
		--listen "127.0.0.1:$DEV_KMIP_PORT" \
		--server-name "$DEV_SERVER_NAME" \
		--database-url "$DEV_DATABASE_URL" \
		--hsm-module "$SOFTHSM2_MODULE" \
		--token-label "$DEV_TOKEN_LABEL" \
		--pin-file "$DEV_PIN_FILE" \
		--softhsm2-conf "$DEV_SOFTHSM2_CONF" \
		--node "$DEV_NODE" ${DEV_HEALTH_PORT:+--health-listen "127.0.0.1:$DEV_HEALTH_PORT"} ${DEV_KEK_EXPORTABLE:+--kek-exportable} \
		</dev/null >"$DEV_DIR/init.log" 2>&1; then
		tail -n 30 "$DEV_DIR/init.log" >&2
		dev_die "strongroom init failed"
	fi
	[[ -f $DEV_CONFIG ]] || dev_die "strongroom init wrote no $DEV_CONFIG"
	local listen
	listen=$(sed -n 's/^ *"listen": *"\([^"]*\)".*/\1/p' "$DEV_CONFIG" | head -n 1)
	if [[ -n $listen && ${listen##*:} != "$DEV_KMIP_PORT" ]]; then
		dev_log "the existing configuration listens on $listen; using port ${listen##*:}"
		DEV_KMIP_PORT=${listen##*:}
		printf '%s\n' "$DEV_KMIP_PORT" >"$DEV_PORT_FILE"
	fi
}

# dev_prepare DIR: everything before `serve`.
dev_prepare() {
	[[ -n ${1:-} ]] || dev_die "no data folder given"
	umask 077
	mkdir -p "$1"
	dev_paths "$1"
	dev_build
	dev_token
	dev_pg
	dev_kmip_port
	dev_init_server
}

# dev_server_pid: the pid in DIR/strongroom.pid if that process is still our
# server (a recycled pid belongs to someone else and is left alone).
dev_server_pid() {
	[[ -s $DEV_SERVER_PID ]] || return 1
	local pid
	pid=$(<"$DEV_SERVER_PID")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config $DEV_CONFIG serve" || return 1
	echo "$pid"
}

dev_stop_server() {
	local pid i
	if pid=$(dev_server_pid); then
		dev_log "stopping strongroom (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			dev_log "strongroom did not stop within 15 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$DEV_SERVER_PID"
}

# dev_start_server: start `strongroom serve` for DIR in the background, after
# stopping one left in the same folder, and wait until it accepts TLS.
# setsid: the server must not share the caller's process group (a test
# runner's or a terminal's signals); no inherited stdio, so a caller that
# reads our output is not kept waiting by the server holding the pipe.
dev_start_server() {
	local pid
	dev_stop_server
	dev_log "starting strongroom serve on 127.0.0.1:$DEV_KMIP_PORT (log $DEV_SERVER_LOG)"
	setsid "$DEV_BIN" --config "$DEV_CONFIG" serve </dev/null >>"$DEV_SERVER_LOG" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$DEV_SERVER_PID"
	dev_wait_ready "$pid"
}

# dev_tls_ok: one mutually authenticated TLS handshake with the key-client
# certificate, checking the server certificate's name as mongod does.
dev_tls_ok() {
	openssl s_client -connect "127.0.0.1:$DEV_KMIP_PORT" \
		-servername "$DEV_SERVER_NAME" -verify_hostname "$DEV_SERVER_NAME" -verify_return_error \
		-CAfile "$DEV_CERTS/ca.pem" -cert "$DEV_CERTS/client-cert.pem" -key "$DEV_CERTS/client-key.pem" \
		</dev/null >/dev/null 2>&1
}

# dev_wait_ready PID: wait until the server accepts TLS; fail early if it dies.
dev_wait_ready() {
	local pid=$1 deadline=$((SECONDS + DEV_READY_TIMEOUT))
	while ! dev_tls_ok; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$DEV_SERVER_LOG" >&2 || true
			dev_die "strongroom serve exited (log $DEV_SERVER_LOG)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$DEV_SERVER_LOG" >&2 || true
			dev_die "strongroom did not accept TLS on 127.0.0.1:$DEV_KMIP_PORT within $DEV_READY_TIMEOUT s"
		fi
		sleep 0.2
	done
}

dev_quote() {
	local q="'\\''"
	printf "'%s'" "${1//\'/$q}"
}

# dev_write_env [NAME=VALUE...]: DIR/env, exported assignments with
# single-quoted values; the extra assignments given follow the standard ones.
# shellcheck disable=SC2120 # the arguments are optional
dev_write_env() {
	local tmp name value kv
	tmp=$(mktemp "$DEV_ENV.XXXXXX")
	chmod 600 "$tmp"
	{
		echo "# Strongroom development environment in $DEV_DIR; use: . $DEV_ENV"
		for name in STRONGROOM_ADDR STRONGROOM_SERVER_NAME STRONGROOM_CA \
			STRONGROOM_ADMIN_CERT STRONGROOM_ADMIN_KEY STRONGROOM_ADMIN_PEM \
			STRONGROOM_CLIENT_CERT STRONGROOM_CLIENT_KEY STRONGROOM_DATABASE_URL \
			STRONGROOM_BIN STRONGROOM_CONFIG SOFTHSM2_CONF; do
			case $name in
			STRONGROOM_ADDR) value=127.0.0.1:$DEV_KMIP_PORT ;;
			STRONGROOM_SERVER_NAME) value=$DEV_SERVER_NAME ;;
			STRONGROOM_CA) value=$DEV_CERTS/ca.pem ;;
			STRONGROOM_ADMIN_CERT) value=$DEV_CERTS/admin-cert.pem ;;
			STRONGROOM_ADMIN_KEY) value=$DEV_CERTS/admin-key.pem ;;
			STRONGROOM_ADMIN_PEM) value=$DEV_CERTS/admin.pem ;;
			STRONGROOM_CLIENT_CERT) value=$DEV_CERTS/client-cert.pem ;;
			STRONGROOM_CLIENT_KEY) value=$DEV_CERTS/client-key.pem ;;
			STRONGROOM_DATABASE_URL) value=$DEV_DATABASE_URL ;;
			STRONGROOM_BIN) value=$DEV_BIN ;;
			STRONGROOM_CONFIG) value=$DEV_CONFIG ;;
			SOFTHSM2_CONF) value=$DEV_SOFTHSM2_CONF ;;
			esac
			printf 'export %s=%s\n' "$name" "$(dev_quote "$value")"
		done
		for kv in "$@"; do
			printf 'export %s=%s\n' "${kv%%=*}" "$(dev_quote "${kv#*=}")"
		done
	} >"$tmp"
	mv -f "$tmp" "$DEV_ENV"
}
