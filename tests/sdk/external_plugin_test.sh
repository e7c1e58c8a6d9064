#!/usr/bin/env bash
# Installs the SDK from a build, builds contracts/examples/external-handler outside the tree
# against it (find_package(SidecarSDK)), and loads the result into the host: `plugins` lists it
# and a running sidecar answers through it.
#   tests/sdk/external_plugin_test.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/sidecar/plugin.hpp"
test -f "$work/prefix/lib/cmake/SidecarSDK/SidecarSDKConfig.cmake"
cmake -S "$here/contracts/examples/external-handler" -B "$work/b" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/b" >/dev/null
test -f "$work/b/upper.so"

mkdir -p "$work/plugins"
cp "$work/b/upper.so" "$work/plugins/"
cp "$build/plugins/zeromq.so" "$work/plugins/"

"$build/bin/sidecar" plugins -c /dev/null >/dev/null 2>&1 || true
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
in_port=$(port); out_port=$(port); admin_port=$(port)
cat >"$work/sidecar.yaml" <<YAML
plugin_dir: $work/plugins
admin: 127.0.0.1:$admin_port
transports:
  zmq:
    plugin: zeromq
    options:
      bind_in: tcp://127.0.0.1:$in_port
      bind_out: tcp://127.0.0.1:$out_port
handlers:
  upper:
    plugin: upper
    options:
      to: shouted
routes:
  - {topic: words, transport: zmq, handler: upper}
outputs:
  "*": zmq
YAML

listing=$("$build/bin/sidecar" plugins -c "$work/sidecar.yaml")
grep -q "^upper  handler  1.0.0" <<<"$listing" || { echo "plugins did not list upper: $listing"; exit 1; }

"$build/bin/sidecar" run -c "$work/sidecar.yaml" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done
out=$("$build/bin/sidecar" publish -c "$work/sidecar.yaml" words 'hello sdk')
expected=$'ok: handled\nHELLO SDK'
if [ "$out" != "$expected" ]; then
  echo "unexpected reply: $out"; cat "$work/log"; exit 1
fi
kill -TERM "$pid"
wait "$pid"
pid=""
echo "external plugin built against the installed SDK and answered: HELLO SDK"
