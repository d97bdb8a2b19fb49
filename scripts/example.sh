#!/usr/bin/env bash
# wharf's main job on the bundled examples:
#  1. examples/hello: C compiled to a WASI module, built into an image with its Dockerfile, run
#     in the sandbox;
#  2. examples/http: a C wasi:http server compiled as a reactor, made a component with the
#     preview1 proxy adapter, built into an image, run detached with a published port, asked
#     for a page, removed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-example-deps.sh
cargo build --release --locked -p wharf-cli -p wharf-test-guests
export WHARF_ROOT=${WHARF_ROOT:-$PWD/target/example-root}
wharf=target/release/wharf

clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o examples/hello/hello.wasm examples/hello/hello.c
"$wharf" build -t wharf-example:latest examples/hello
"$wharf" images
"$wharf" run wharf-example:latest

gen=tests/guests/http/gen
clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-debug -I "$gen" \
  -o examples/http/server.core.wasm examples/http/server.c "$gen/hello_http.c" "$gen/hello_http_component_type.o"
target/release/wharf-componentize proxy examples/http/server.core.wasm examples/http/server.wasm
"$wharf" build -q -t wharf-example-http:latest examples/http
"$wharf" rm -f wharf-example-web >/dev/null 2>&1 || true
"$wharf" run -d --name wharf-example-web -p 127.0.0.1::8080 wharf-example-http:latest >/dev/null
trap '"$wharf" rm -f wharf-example-web >/dev/null' EXIT
address=$("$wharf" port wharf-example-web 8080)
echo "wasi:http server published on $address"
# Asked with bash alone (a fresh machine may have no curl); the server may take a moment.
for _ in $(seq 50); do
  if exec 3<>"/dev/tcp/${address%:*}/${address##*:}" 2>/dev/null; then
    printf 'GET /hello HTTP/1.0\r\nHost: example\r\n\r\n' >&3
    sed -n '$p' <&3
    exec 3<&-
    exit 0
  fi
  sleep 0.1
done
echo "the wasi:http server did not answer on $address" >&2
exit 1
