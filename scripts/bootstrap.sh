#!/usr/bin/env bash
# Install what bedwatch needs on Debian, idempotently: the Mosquitto and InfluxDB servers
# (used by the demo and the tests, always on loopback ports of their own) and a virtual
# environment with the project and the given extras.
#   scripts/bootstrap.sh [extras] [browser]   e.g. scripts/bootstrap.sh edge,hub,dev browser
# With "browser", also Debian's Chromium, in which the tests click through the caregiver page,
# and the Noto CJK fonts it shows the Chinese pages in.
set -euo pipefail
extras=${1:-edge,hub,dev}
browser=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_pkgs+=(influxdb)
if [ "$browser" = browser ]; then
    command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
    # The pages are Chinese first: without a CJK font the browser tests' screenshots show boxes.
    if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh-cn | grep -q .; }; then
        need_pkgs+=(fonts-noto-cjk)
    fi
fi
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    need_pkgs+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_pkgs+=(python3-venv)
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "missing: ${need_pkgs[*]}. This machine has no apt-get: install them with your package manager and run again." >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            say "missing: ${need_pkgs[*]}; run as root or install sudo." >&2; exit 1
        fi
    fi
    say "installing Debian packages: ${need_pkgs[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    # The packages enable system services; bedwatch starts its own servers on free ports.
fi

stamp=.venv/.bedwatch-installed
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $extras"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing bedwatch[$extras] into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extras]"
    echo "$want" > "$stamp"
fi
