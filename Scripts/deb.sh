#!/usr/bin/env bash
# `make deb`: `make install` into a staging folder, a check of that layout, then dpkg-deb.
# The configuration is a conffile (upgrades keep local edits); postinst enables and starts the
# unit when systemd runs. VERSION=… overrides the package version.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:-0.1.0}
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/herald-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"  # becomes / in the package

make --no-print-directory install DESTDIR="$stage" PREFIX=/usr

# The layout the unit and the configuration rely on, and a binary that runs on it.
for path in usr/bin/herald lib/systemd/system/herald.service etc/herald/herald.yaml usr/share/herald/web/index.html; do
    [ -e "$stage/$path" ] || { echo "deb: $path is missing from the install" >&2; exit 1; }
done
"$stage/usr/bin/herald" check-config "$stage/etc/herald/herald.yaml"

# Depends is written by hand; fail if the binary starts needing a library it does not name.
needed=$(objdump -p "$stage/usr/bin/herald" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')
for lib in $needed; do
    case $lib in
        libmosquitto.so.1|libsqlite3.so.0|libz.so.1|libstdc++.so.6|libgcc_s.so.1|libc.so.6|libm.so.6|ld-linux*) ;;
        *) echo "deb: herald needs $lib, which Depends does not cover" >&2; exit 1 ;;
    esac
done

mkdir "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<EOF
Package: herald
Version: $version
Architecture: $arch
Maintainer: Herald developers <herald@localhost>
Depends: libc6, libgcc-s1, libstdc++6, zlib1g, libmosquitto1, libsqlite3-0
Recommends: mosquitto
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: MQTT to Server-Sent Events relay with durable ids
 Herald subscribes to MQTT topics, stores every message as an event with a durable,
 strictly increasing id in SQLite, and serves channels as Server-Sent Events that
 resume exactly by Last-Event-ID, plus a small dashboard.
EOF
echo /etc/herald/herald.yaml > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
# First install: enable and start. Upgrade ($2 is the old version): restart only if it runs,
# so a unit the administrator disabled stays disabled.
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ -z "$2" ]; then systemctl enable --now herald.service; else systemctl try-restart herald.service; fi
fi
EOF
cat > "$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then systemctl disable --now herald.service || true; fi
EOF
cat > "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
# The database lives in the StateDirectory (under /var/lib/private with DynamicUser).
if [ "$1" = purge ]; then rm -rf /var/lib/herald /var/lib/private/herald; fi
EOF
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p .build/deb
deb=.build/deb/herald_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Depends:/p'
echo "built $deb"
