#!/usr/bin/env bash
# What a device does: install the agent workspace alone, production dependencies only, and run
# it. Proves the agent needs nothing of the trainer's and no dev tool at run time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$root"/package.json "$root"/package-lock.json "$root"/.npmrc "$work"/
mkdir -p "$work/agent" "$work/trainer"
cp "$root"/trainer/package.json "$work/trainer/"
# The built agent, as a package would ship it (dist/ and wasm/ come from `npm ci`'s build).
(cd "$root/agent" && cp -r package.json bin dist wasm "$work/agent/")
# The default model bundle ships beside the agent, as on a device.
cp -r "$root/models" "$work/"

cd "$work"
npm ci --workspace agent --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
installed=$(cd node_modules && ls -d @*/* [!@.]* 2>/dev/null | sort | tr '\n' ' ')
echo "agent-only install: $installed($(du -sh node_modules | cut -f1))"
for forbidden in typescript tsx assemblyscript @biomejs/biome fft.js @ser-edge/trainer @tensorflow; do
  if [ -e "node_modules/$forbidden" ]; then
    echo "agent-only install pulled $forbidden" >&2
    exit 1
  fi
done
node agent/bin/ser-agent.js inspect "$root/demo/03-01-01-01-01-01-17.flac" >/dev/null
echo "agent-only install: ser-agent inspect ran"
# The device pipeline end to end on the default model: ONNX Runtime's native binding included.
node agent/bin/ser-agent.js classify "$root/demo/03-01-05-02-02-01-19.flac" | grep -q '"label":'
echo "agent-only install: ser-agent classify ran on models/default"
