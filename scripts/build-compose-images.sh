#!/usr/bin/env bash
# Builds docker-compose's images with no registry (idempotent): a Redis image from Debian's redis-server
# (mmdebstrap → docker import, tagged by a hash of its recipe) and the worker image FROM the offline Python
# base image with a wheelhouse filled on the host by pip (its own config, as for the sandboxes' dependencies).
# Writes .run/compose.env for `docker-compose --env-file`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p .run/wheels
recipe="v1 $SUITE $MIRROR minbase redis-server"
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
redis_image="sigma-exec/compose-redis:$tag"
if ! docker image inspect "$redis_image" >/dev/null 2>&1; then
  echo "==> building $redis_image (mmdebstrap)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mmdebstrap --variant=minbase --include=redis-server \
    --customize-hook='mkdir -p "$1"/data' \
    --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/*' \
    "$SUITE" "$tmp/rootfs.tar" "deb $MIRROR $SUITE main" >/dev/null 2>&1
  docker import --change 'CMD ["redis-server", "--protected-mode", "no"]' --change 'WORKDIR /data' \
    "$tmp/rootfs.tar" "$redis_image" >/dev/null
fi
$BIN/sigma-exec images build --language python >/dev/null
worker_base=$($BIN/python -c 'from sigma_exec.images import base_image_ref; from sigma_exec.languages import resolve_language; from sigma_exec.settings import Settings; print(base_image_ref(resolve_language("python"), Settings()))')
echo "==> wheelhouse for the worker image (pip, host side)"
# Debian 12's python3 is 3.11.2: redis needs async-timeout there (not on a newer host Python)
$BIN/python -m pip wheel -q --wheel-dir .run/wheels ".[queue]" setuptools wheel "async-timeout>=4.0.3"
rm -f .run/wheels/sigma_exec-*.whl  # the image installs the project itself, editable, from its sources
cat > .run/compose.env <<ENV
SIGMA_REDIS_IMAGE=$redis_image
SIGMA_WORKER_BASE=$worker_base
ENV
docker-compose --env-file .run/compose.env -f docker-compose.yml -f docker-compose.offline.yml build -q worker
echo "==> compose images: $redis_image, sigma-exec-worker:offline (FROM $worker_base)"
