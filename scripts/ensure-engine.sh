#!/usr/bin/env bash
# Starts a Docker engine if none answers (idempotent); waits until it does.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
echo "==> starting dockerd"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
for attempt in 1 2 3; do
  $SUDO sh -c 'setsid dockerd >/var/log/sigma-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then exit 0; fi
    sleep 0.5
  done
  echo "dockerd did not answer (attempt $attempt); retrying" >&2
  $SUDO rm -f /var/run/docker.pid
  sleep 2
done
tail -n 20 /var/log/sigma-dockerd.log >&2 || true
echo "could not start the Docker engine" >&2
exit 1
