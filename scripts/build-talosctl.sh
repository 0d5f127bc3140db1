#!/usr/bin/env bash
# Builds the real talosctl from the Go module proxy into .tools/talosctl/, for the optional compatibility suite
# (test/simulator/talosctl.test.ts; see docs/talosctl-compat.md). Takes about 4 minutes on 2 cores.
#
# The proxy reachable from our build machines serves github.com/siderolabs/talos at v1.10.6 but not v1.10.9,
# while pkg/machinery (the API protos, the client and the version data) is served at v1.10.9; their api/ trees
# are identical. Set TALOS_VERSION / MACHINERY_VERSION to build another pair.
# sum.golang.org is not reachable there either, hence GOSUMDB=off: drop it where the checksum database answers.
set -euo pipefail
TALOS_VERSION=${TALOS_VERSION:-v1.10.6}
MACHINERY_VERSION=${MACHINERY_VERSION:-v1.10.9}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.tools/talosctl"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS='-mod=mod -buildvcs=false' CGO_ENABLED=0 GOSUMDB=${GOSUMDB:-off}

go mod download "github.com/siderolabs/talos@$TALOS_VERSION" "github.com/siderolabs/talos/pkg/machinery@$MACHINERY_VERSION"
MODCACHE=$(go env GOMODCACHE)
SRC=$(mktemp -d)
trap 'chmod -R u+w "$SRC"; rm -rf "$SRC"' EXIT
cp -r "$MODCACHE/github.com/siderolabs/talos@$TALOS_VERSION/." "$SRC"
chmod -R u+w "$SRC"
# go.mod replaces pkg/machinery with ./pkg/machinery, a nested module the parent's module zip leaves out.
rm -rf "$SRC/pkg/machinery"
cp -r "$MODCACHE/github.com/siderolabs/talos/pkg/machinery@$MACHINERY_VERSION" "$SRC/pkg/machinery"
chmod -R u+w "$SRC/pkg/machinery"
mkdir -p "$OUT"
(cd "$SRC" && go build -tags grpcnotrace -ldflags "-s -w" -o "$OUT/talosctl" ./cmd/talosctl)
"$OUT/talosctl" version --client
echo "built $OUT/talosctl; run the compatibility suite with: TALOSCTL=$OUT/talosctl npx jest test/simulator/talosctl.test.ts"
