#!/usr/bin/env bash
# Builds the real Dockerfile offline on this machine, for the Docker tests:
#
#   bash scripts/local-image.sh        # prints the image name: muster-local:test
#
# 1. the base image: scripts/local-base-image.sh (this machine's node + busybox);
# 2. a build context with what `npm run build` left in dist/ (run it first), bin/,
#    package.json, the lockfile and the production dependencies only (the packages
#    `npm ls --omit=dev` lists, copied from node_modules; no registry needed);
# 3. `docker build --build-arg BASE=<local base> --build-arg DEPS=context`.
#
# The image is labelled with a digest of its context (but dist/test) and not rebuilt while that
# stays the same, so several test files share one build; concurrent callers wait
# on a lock. MUSTER_LOCAL_IMAGE names another tag.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${MUSTER_LOCAL_IMAGE:-muster-local:test}"
lock="${TMPDIR:-/tmp}/muster-local-image.lock"

exec 9>"$lock"
flock 9

base="$(bash "$root/scripts/local-base-image.sh")"

if [[ ! -f "$root/dist/src/cli/main.js" ]]; then
  echo "local-image: $root/dist is not built (npm run build)" >&2
  exit 1
fi

ctx="$(mktemp -d "${TMPDIR:-/tmp}/muster-image-context.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT

cp -a "$root/Dockerfile" "$root/package.json" "$root/package-lock.json" "$root/bin" "$ctx/"
# dist/ without the incremental-build record (it changes with every build)
tar -C "$root" --exclude=dist/.tsbuildinfo -c dist | tar -C "$ctx" -x
# production dependencies: the packages npm would keep after `npm prune --omit=dev`
mkdir -p "$ctx/node_modules"
(cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r dir; do
  rel="${dir#"$root"/}"
  [[ "$rel" == node_modules/* ]] || continue
  mkdir -p "$ctx/$(dirname "$rel")"
  [[ -e "$ctx/$rel" ]] || cp -a "$(readlink -f "$root/$rel")" "$ctx/$rel"
done
# The digest leaves out the compiled tests (dist/test), which the image carries but never
# runs: editing a test does not cost a rebuild.
digest="$(cd "$ctx" && find . -type f -not -path './dist/test/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)-${base}"

if [[ "$(docker image inspect --format '{{ index .Config.Labels "muster.local.context" }}' "$image" 2>/dev/null)" == "$digest" ]]; then
  echo "$image"
  exit 0
fi

old="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
start=$SECONDS
DOCKER_BUILDKIT=0 docker build -q --force-rm \
  --build-arg "BASE=$base" --build-arg DEPS=context \
  --label "muster.local.context=$digest" \
  -t "$image" "$ctx" >/dev/null
echo "local-image: built $image on $base in $((SECONDS - start)) s" >&2
# the superseded image, and the build stages left behind (untagged, with the base's label)
if [[ -n "$old" && "$old" != "$(docker image inspect --format '{{.Id}}' "$image")" ]]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
docker image prune -f --filter "label=muster.local.base" >/dev/null 2>&1 || true
echo "$image"
