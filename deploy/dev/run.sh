#!/usr/bin/env bash
# run.sh DIR: `make run`. The same set-up as up.sh, then `strongroom serve` in
# the foreground; Ctrl-C (or SIGTERM) stops the server, then PostgreSQL.
# Running it again reuses the same token, database and keys. DIR/env is
# written too, so another terminal can `. DIR/env; $STRONGROOM_BIN key list`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || {
	echo "usage: $0 DIR" >&2
	exit 2
}

dev_prepare "$1"
dev_stop_server # one left by up.sh in the same folder would hold the port
dev_write_env

cat <<INFO

Strongroom KMIP server "$DEV_SERVER_NAME" on 127.0.0.1:$DEV_KMIP_PORT
  CA certificate (mongod --kmipServerCAFile):                   $DEV_CERTS/ca.pem
  Crypto Officer cert+key (mongod --kmipClientCertificateFile): $DEV_CERTS/admin.pem
  Key-client cert+key:                                          $DEV_CERTS/client.pem
  Configuration: $DEV_CONFIG
  Environment:   . $DEV_ENV

mongod must resolve the server name; add it to /etc/hosts once:
  echo '127.0.0.1 $DEV_SERVER_NAME' >> /etc/hosts
then start mongod (Enterprise) on an empty data folder:
  mongod --enableEncryption --kmipServerName $DEV_SERVER_NAME --kmipPort $DEV_KMIP_PORT \\
    --kmipServerCAFile $DEV_CERTS/ca.pem \\
    --kmipClientCertificateFile $DEV_CERTS/admin.pem \\
    --dbpath /var/lib/mongodb-strongroom

Ctrl-C stops the server, then PostgreSQL.

INFO

pid=
stopping=
shutdown() {
	[[ -z $stopping ]] || return 0
	stopping=1
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$DEV_SERVER_PID"
	dev_stop_pg
}
trap shutdown EXIT
trap 'shutdown; exit 130' INT
trap 'shutdown; exit 143' TERM

# In the background plus `wait`, so that a SIGTERM sent to this script alone
# (not to the terminal's process group) still reaches the traps at once.
"$DEV_BIN" --config "$DEV_CONFIG" serve &
pid=$!
printf '%s\n' "$pid" >"$DEV_SERVER_PID"
wait "$pid"
