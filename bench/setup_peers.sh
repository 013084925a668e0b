#!/usr/bin/env bash
# Creates what the side-by-side benchmark needs besides ticker itself:
#   bench/.venv-peers       python-socketio, broadcaster (+ redis-py 7.4), uvicorn, uvloop, matplotlib
#   bench/peers/node/       ws + ioredis from package-lock.json
#   bench/peers/bun/        the `bun` npm package (its optional dependency @oven/bun-<platform> is the binary)
# Usage: bench/setup_peers.sh [python]   (default python3; node and npm must be on PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-python3}"

if [ ! -x "$here/.venv-peers/bin/python" ]; then
    "$python" -m venv "$here/.venv-peers"
fi
"$here/.venv-peers/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv-peers/bin/python" -m pip install --quiet -r "$here/peers/requirements.txt"

for peer in node bun; do
    (cd "$here/peers/$peer" && if [ -f package-lock.json ]; then npm ci --silent; else npm install --silent; fi)
done
echo "peers ready: $here/.venv-peers/bin/python, node $(node --version), bun $("$here/peers/bun/node_modules/.bin/bun" --version)"
