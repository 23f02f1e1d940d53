#!/usr/bin/env bash
# install-deps.sh: install, from Debian's packages, whatever Strongroom's
# development environment and tests need and this machine lacks.
#
# Idempotent and quiet: each requirement is probed first (a command, a file or
# a Python import), `apt-get update` runs once and only if something must be
# installed, and one line is printed per package installed. Runs as root with
# no standard input; as another user it uses `sudo -n` if that works.
#
# Installing postgresql-15 makes Debian's postinst create a cluster "main" on
# port 5432 and try to start it (systemd / pg_ctlcluster). Nothing of ours
# uses it: deploy/dev/up.sh and the tests run their own clusters, on other
# ports, from data folders they create.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Each line: package, then how to tell it is present:
#   cmd:NAME     a command on PATH
#   file:PATH    a file that exists
#   py:MODULE    a module /usr/bin/python3 can import
requirements=(
	"softhsm2 cmd:softhsm2-util"
	"softhsm2 file:/usr/lib/softhsm/libsofthsm2.so"
	"opensc cmd:pkcs11-tool"
	"postgresql-15 file:/usr/lib/postgresql/15/bin/initdb"
	"postgresql-15 file:/usr/lib/postgresql/15/bin/pg_ctl"
	"postgresql-client-15 file:/usr/lib/postgresql/15/bin/psql"
	"python3-pykmip py:kmip.pie.client"
	"ca-certificates file:/etc/ssl/certs/ca-certificates.crt"
	"procps cmd:ps"
	"iproute2 cmd:ss"
	"openssl cmd:openssl"
	"gcc cmd:gcc"
	"libc6-dev file:/usr/include/stdio.h"
	"util-linux cmd:runuser"
	"haproxy cmd:haproxy"
)

present() {
	local probe=$1
	case $probe in
	cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 ;;
	file:*) [[ -e ${probe#file:} ]] ;;
	py:*) [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -I -c "import ${probe#py:}" >/dev/null 2>&1 ;;
	*)
		echo "install-deps: unknown probe $probe" >&2
		return 2
		;;
	esac
}

missing=()
for req in "${requirements[@]}"; do
	pkg=${req%% *}
	probe=${req#* }
	if ! present "$probe"; then
		# Add each package once even when several of its probes fail.
		if [[ " ${missing[*]-} " != *" $pkg "* ]]; then
			missing+=("$pkg")
		fi
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n DEBIAN_FRONTEND=noninteractive)
	else
		echo "install-deps: missing Debian packages: ${missing[*]}; run this script as root" >&2
		exit 1
	fi
fi

log=$(mktemp "${TMPDIR:-/tmp}/strongroom-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! "${sudo[@]}" apt-get update </dev/null >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "install-deps: apt-get update failed" >&2
	exit 1
fi
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "install-deps: apt-get install ${missing[*]} failed" >&2
	exit 1
fi
for pkg in "${missing[@]}"; do
	echo "install-deps: installed $pkg"
done
# A package can install and still not provide what was probed (a renamed
# file, a Python without the module): say so now rather than in a test.
for req in "${requirements[@]}"; do
	if ! present "${req#* }"; then
		echo "install-deps: ${req%% *} is installed but ${req#* } is still missing" >&2
		exit 1
	fi
done
