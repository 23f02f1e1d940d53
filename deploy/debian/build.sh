#!/usr/bin/env bash
# build.sh OUTDIR: build the Strongroom Debian package with dpkg-deb (no
# debhelper needed) into OUTDIR/strongroom_VERSION_ARCH.deb and print its path.
#
# The package installs /usr/bin/strongroom, the hardened systemd unit
# (deploy/systemd/strongroom.service, not enabled or started: run
# `strongroom init` first), a default /etc/strongroom/strongroom.json
# (a conffile) and README/DESIGN/MIRRORING under /usr/share/doc/strongroom.
# postinst creates the system user "strongroom" and sets the modes of
# /etc/strongroom (see postinst); purge removes the user and its state.
#
# Environment: VERSION (default from git describe, else 0.0.0), GO,
# STRONGROOM_BIN (package this binary instead of building one).
set -euo pipefail
[[ $# -eq 1 ]] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
mkdir -p "$1"
out=$(cd "$1" && pwd -P)
GO=${GO:-go}
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
command -v dpkg-deb >/dev/null 2>&1 || {
	echo "build.sh: dpkg-deb is not installed" >&2
	exit 1
}
version=${VERSION:-$(git -C "$repo" describe --tags --always 2>/dev/null | sed 's/^v//; s/^\([^0-9]\)/0.0.0+\1/' || true)}
version=${version:-0.0.0}
arch=$(dpkg --print-architecture)

stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
install -d -m 755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/share/doc/strongroom"
install -d -m 750 "$stage/etc/strongroom"
if [[ -n ${STRONGROOM_BIN:-} ]]; then
	install -m 755 "$STRONGROOM_BIN" "$stage/usr/bin/strongroom"
else
	(cd "$repo" && CGO_ENABLED=1 "$GO" build -trimpath -o "$stage/usr/bin/strongroom" ./cmd/strongroom)
fi
chmod 755 "$stage/usr/bin/strongroom"
install -m 644 "$repo/deploy/systemd/strongroom.service" "$stage/lib/systemd/system/strongroom.service"
install -m 640 "$here/strongroom.json" "$stage/etc/strongroom/strongroom.json"
for f in README.md docs/DESIGN.md docs/MIRRORING.md; do
	[[ -f $repo/$f ]] && install -m 644 "$repo/$f" "$stage/usr/share/doc/strongroom/"
done
install -m 755 "$here/postinst" "$here/postrm" "$stage/DEBIAN/"
echo /etc/strongroom/strongroom.json >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: strongroom
Version: $version
Architecture: $arch
Maintainer: Strongroom <strongroom@localhost>
Installed-Size: $size
Depends: libc6, adduser
Recommends: softhsm2, postgresql-15 | postgresql
Section: net
Priority: optional
Description: hardware-backed KMIP key server
 Strongroom serves KMIP over mutually authenticated TLS (port 5696) to
 clients such as mongod. Keys are generated and wrapped inside a PKCS#11
 token; only wrapped blobs are kept in PostgreSQL. Nodes mirror each other
 with PostgreSQL logical replication.
CONTROL
deb=$out/strongroom_${version}_$arch.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
