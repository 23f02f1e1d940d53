#!/usr/bin/env bash
# up.sh DIR: start Strongroom's development environment in the background,
# with all its state under DIR: a SoftHSM2 token, a PostgreSQL 15 cluster, the
# certificates and configuration of `strongroom init`, and `strongroom serve`.
# Waits until the server accepts TLS, then writes DIR/env (see lib.sh).
# Re-running reuses the token, database and keys. Stop with down.sh DIR.
#
# Environment: KMIP_PORT (default: a free port, kept across runs),
# STRONGROOM_BIN (use this binary instead of building ./cmd/strongroom),
# PG_PORT (PostgreSQL port on first run; default a free one),
# STRONGROOM_READY_TIMEOUT (seconds to wait for TLS, default 30).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || {
	echo "usage: $0 DIR" >&2
	exit 2
}

dev_prepare "$1"
dev_start_server
dev_write_env
dev_log "ready: KMIP on 127.0.0.1:$DEV_KMIP_PORT (server name $DEV_SERVER_NAME); use: . $DEV_ENV"
