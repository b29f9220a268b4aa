#!/usr/bin/env bash
# Idempotent setup for a fresh machine: Node packages and the TypeScript build.
# Safe to run before every command; it does only what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  log "Node.js >= 20 is required (found $(node --version))"; exit 1
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.hearth-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

log "building (tsc -b)"
npx --no-install tsc -b
chmod +x dist/cli/hearth.js
