# Muster in a container:
#
#   docker build -t muster .
#   docker run -d --name muster --net=host -v /var/run/docker.sock:/var/run/docker.sock muster
#
# BASE is any image with Node.js 20 and a POSIX shell; the default is the official one.
# DEPS says where the build stage gets node_modules and dist/ from:
#   npm      (default) `npm ci` from package-lock.json, `npm run build`, then
#            `npm prune --omit=dev`: the ordinary build from a clone (needs the npm registry);
#   context  the build context already holds a compiled dist/ and production-only
#            node_modules/ (scripts/image-context.sh makes one): an offline build, used
#            by the tests with BASE from scripts/local-base-image.sh.
ARG BASE=node:20-bookworm-slim

# Few instructions on purpose: the legacy builder (docker-compose v1, Docker 20.10) makes a
# container for every instruction, a full copy of the image on the vfs storage driver.
FROM ${BASE} AS build
ARG DEPS=npm
# the lockfile first, so a source change does not reinstall the dependencies
COPY package.json package-lock.json /src/
RUN if [ "$DEPS" = npm ]; then cd /src && npm ci --ignore-scripts --no-audit --no-fund; fi
COPY . /src/
RUN set -e; cd /src; \
    case "$DEPS" in \
      npm) npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund ;; \
      context) test -f dist/src/cli/main.js && test -d node_modules \
        || { echo "DEPS=context needs dist/ and node_modules/ in the build context" >&2; exit 1; } ;; \
      *) echo "DEPS must be npm or context, not $DEPS" >&2; exit 1 ;; \
    esac; \
    mkdir -p /out/opt/muster /out/usr/local/bin; \
    cp -a package.json bin dist node_modules /out/opt/muster/; \
    ln -s /opt/muster/bin/muster /out/usr/local/bin/muster

# the compiled JS, bin/, package.json and the production dependencies, in /opt/muster;
# `muster` on the PATH
FROM ${BASE}
COPY --from=build /out/ /
# HTTP API, DNS, server RPC, gossip LAN and WAN (Consul's ports)
EXPOSE 8500 8600 8600/udp 8300 8301 8301/udp 8302 8302/udp
# the agent answers its HTTP API (MUSTER_HTTP_ADDR, else 127.0.0.1:8500, as `muster members`)
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["muster", "members"]
# The Docker socket: DOCKER_HOST, else /var/run/docker.sock, else /tmp/docker.sock (where
# registrator's users mount it). `docker stop` sends SIGTERM: a client agent leaves the
# cluster gracefully, a server just stops (Consul's leave_on_terminate); both exit 0.
ENTRYPOINT ["muster"]
CMD ["agent", "-dev", "-client", "0.0.0.0"]
