#!/usr/bin/env bash
# Installs what optimerge needs on a fresh machine: system packages (if missing) and the venv.
# Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# Prometheus and promtool: the alert rules' unit tests and the monitoring integration test.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# `infra up --postgres-standby`: Patroni fails over, etcd is its store (both Debian's).
command -v patroni >/dev/null 2>&1 || need_apt+=(patroni)
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
# The fault suite cuts one worker off in a network namespace of its own (ip netns, veth).
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
if ((${#need_apt[@]})); then
  echo "setup: installing system packages: ${need_apt[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "setup: Python >= 3.11 is required" >&2; exit 1; }

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: creating .venv with $python and installing optimerge[dev]"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
