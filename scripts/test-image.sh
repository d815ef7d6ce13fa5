#!/usr/bin/env bash
# Builds the local image the Docker tests run: muster-test-busybox:latest.
#
# No registry is reachable on the test machines, so the image is made from the
# host's statically linked busybox (Debian package busybox-static): a rootfs with
# /bin/busybox, the applet symlinks the tests use and a tiny web root served by
# `httpd -f -p 80 -h /www`. Idempotent: does nothing when the image exists and
# carries this recipe's version (label muster.test.image); an older or foreign
# image of that name is replaced. MUSTER_TEST_IMAGE_REBUILD=1 rebuilds anyway.
set -euo pipefail

image="${MUSTER_TEST_IMAGE:-muster-test-busybox:latest}"
# Bump when the rootfs below changes, so existing machines rebuild.
recipe=2

if [[ "${MUSTER_TEST_IMAGE_REBUILD:-0}" != 1 ]] &&
  [[ "$(docker image inspect --format '{{ index .Config.Labels "muster.test.image" }}' "$image" 2>/dev/null)" == "$recipe" ]]; then
  exit 0
fi

busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [[ -x "$candidate" ]]; then busybox="$candidate"; break; fi
done
if [[ -z "$busybox" ]]; then
  echo "test-image: busybox not found (install Debian's busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would need the host's libc inside the image.
if command -v ldd >/dev/null 2>&1 && ldd "$busybox" 2>/dev/null | grep -q '=>'; then
  echo "test-image: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/muster-test-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs"/{bin,etc,tmp,www,var/run}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh httpd nc sleep echo cat ls wget true false kill env \
  ps id hostname grep sed test mkdir rm touch date printf timeout; do
  ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'hello\n' >"$rootfs/www/index.html"
printf 'ok\n' >"$rootfs/www/health"

tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
  docker import -c 'ENV PATH=/bin' -c "LABEL muster.test.image=$recipe" - "$image" >/dev/null
echo "test-image: built $image (recipe $recipe) from $busybox"
