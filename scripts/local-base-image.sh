#!/usr/bin/env bash
# Makes a local stand-in for the official Node 20 image, for building the real
# Dockerfile where no image registry is reachable (the test machines):
#
#   bash scripts/local-base-image.sh            # -> muster-local-node:20 (prints the name)
#   docker build --build-arg BASE=muster-local-node:20 --build-arg DEPS=context CONTEXT
#
# The rootfs is this machine's own Node runtime: the `node` binary, the shared
# libraries `ldd` lists for it and Debian's statically linked busybox (busybox-static) as /bin/sh and the rest
# of the userland, laid out as in the official image (node in /usr/local/bin).
# No npm: it is thousands of small files, and every build step copies the whole
# image on the vfs storage driver; the tests build with DEPS=context, which needs
# none. Imported with `docker import` (~100 MB, a few seconds).
# Idempotent: does nothing when the image exists with this recipe and this node
# version (label muster.local.base); MUSTER_LOCAL_BASE_REBUILD=1 rebuilds anyway.
set -euo pipefail

image="${MUSTER_LOCAL_BASE:-muster-local-node:20}"
# Bump when the rootfs below changes, so existing machines rebuild.
recipe=2

node_bin="$(readlink -f "$(command -v node)")"
want="$recipe-$("$node_bin" --version)"
if [[ "${MUSTER_LOCAL_BASE_REBUILD:-0}" != 1 ]] &&
  [[ "$(docker image inspect --format '{{ index .Config.Labels "muster.local.base" }}' "$image" 2>/dev/null)" == "$want" ]]; then
  echo "$image"
  exit 0
fi

busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [[ -x "$candidate" ]]; then busybox="$candidate"; break; fi
done
if [[ -z "$busybox" ]] || ldd "$busybox" 2>/dev/null | grep -q '=>'; then
  echo "local-base-image: a statically linked busybox is needed (install Debian's busybox-static)" >&2
  exit 1
fi

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/muster-local-base.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,etc,tmp,root,usr/bin,usr/local/bin,var/run}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
# every applet as a symlink to busybox, in /bin
for applet in $("$busybox" --list); do
  [[ "$applet" == busybox || "$applet" == */* ]] || ln -sf busybox "$rootfs/bin/$applet"
done
ln -sf /bin/busybox "$rootfs/usr/bin/env" # shebangs say #!/usr/bin/env node

cp "$node_bin" "$rootfs/usr/local/bin/node"
# the dynamic loader and libraries, at the paths the binary was linked against
ldd "$node_bin" | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"

tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENV NODE_VERSION=$("$node_bin" --version | tr -d v)" \
    -c "LABEL muster.local.base=$want" \
    -c 'CMD ["node"]' \
    - "$image" >/dev/null
echo "local-base-image: built $image from $node_bin and $busybox" >&2
echo "$image"
