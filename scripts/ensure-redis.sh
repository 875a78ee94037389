#!/usr/bin/env bash
# Starts a throw-away redis-server on a loopback port for the test suite (idempotent).
set -euo pipefail
port="${1:-6399}"
dir="${2:-.run}"
mkdir -p "$dir"
if redis-cli -p "$port" ping >/dev/null 2>&1; then exit 0; fi
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$PWD/$dir/redis-$port.pid" --logfile "$PWD/$dir/redis-$port.log" --maxmemory-policy noeviction
for _ in $(seq 1 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "redis-server did not start on port $port" >&2
exit 1
