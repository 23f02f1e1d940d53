#!/usr/bin/env bash
# down.sh DIR: stop what up.sh (or run.sh) started in DIR: the server, by the
# pid in DIR/strongroom.pid, then PostgreSQL (pg_ctl stop -m fast, which uses
# the cluster's postmaster.pid). Safe to run twice or on a missing DIR; DIR
# may be deleted afterwards.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || {
	echo "usage: $0 DIR" >&2
	exit 2
}
[[ -d $1 ]] || exit 0
dev_paths "$1"
dev_stop_server
dev_stop_pg
