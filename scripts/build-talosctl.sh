#!/usr/bin/env bash
# Builds the real talosctl for the optional compatibility suite (test/simulator/talosctl.test.ts, see
# docs/talosctl-compat.md). The same as `npm run tools -- --with talosctl`: built once per machine into the tools
# cache (~/.cache/talos-fleet/tools/talosctl-VERSION) and linked at .tools/talosctl/bin/talosctl. About 4 minutes on
# 2 cores the first time; the pinned talos/machinery pair and why are in src/tools/catalog.ts.
set -euo pipefail
if [[ -n "${TALOS_VERSION:-}${MACHINERY_VERSION:-}" ]]; then
  echo "TALOS_VERSION and MACHINERY_VERSION are no longer read: the pair is pinned in src/tools/catalog.ts (id talosctl)" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
npx ts-node --transpile-only scripts/provision-tools.ts --only talosctl
"$ROOT/.tools/talosctl/bin/talosctl" version --client
echo "run the compatibility suite with: TALOSCTL=$ROOT/.tools/talosctl/bin/talosctl npx jest test/simulator/talosctl.test.ts"
