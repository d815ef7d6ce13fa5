#!/usr/bin/env bash
# Makes a local etcd image from this machine's etcd (Debian's etcd-server), for the
# compose tests of compose-examples/forward/ where no registry is reachable:
#
#   bash scripts/local-etcd-image.sh      # -> muster-local-etcd:<version> (prints the name)
#
# The rootfs holds /usr/local/bin/etcd and the libraries `ldd` lists for it (Debian's
# build links libc). Idempotent: nothing happens when the image exists.
set -euo pipefail

etcd_bin="$(readlink -f "$(command -v etcd)")" || { echo "local-etcd-image: etcd not found (install etcd-server)" >&2; exit 1; }
version="$("$etcd_bin" --version | sed -n 's/^etcd Version: //p')"
image="muster-local-etcd:${version:-unknown}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/muster-local-etcd.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{usr/local/bin,tmp,etc}
chmod 1777 "$rootfs/tmp"
cp "$etcd_bin" "$rootfs/usr/local/bin/etcd"
ldd "$etcd_bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
printf 'root:x:0:0:root:/root:/bin/false\n' >"$rootfs/etc/passwd"

tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
  docker import -c 'ENV PATH=/usr/local/bin' -c 'CMD ["etcd"]' - "$image" >/dev/null
echo "local-etcd-image: built $image from $etcd_bin" >&2
echo "$image"
