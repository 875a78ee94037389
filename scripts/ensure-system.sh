#!/usr/bin/env bash
# Installs what sigma-exec needs from Debian's packages, only where missing (idempotent).
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v npm >/dev/null 2>&1 || need+=(npm)  # fetches JavaScript dependencies (scripts off) and image tools
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)  # headless: the Flower test reads pages as a user would
# Debian's jars the Maven mirror test serves from a loopback mirror.
[ -f /usr/share/java/commons-lang3.jar ] && [ -f /usr/share/java/commons-io.jar ] || need+=(libcommons-lang3-java libcommons-io-java)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
