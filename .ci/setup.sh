#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Quayside; skips what is already there.
# Usage: .ci/setup.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

# Debian packages for the tests: Chromium (browser tests), PostgreSQL 15 (contract tests),
# skopeo and umoci (real registry clients), brotli (the UI's download size, printed).
need_apt=()
if [ "$what" = test ]; then
  [ -x /usr/lib/chromium/chromium ] || need_apt+=(chromium)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
  command -v skopeo >/dev/null || need_apt+=(skopeo)
  command -v umoci >/dev/null || need_apt+=(umoci)
  command -v curl >/dev/null || need_apt+=(curl)
  command -v brotli >/dev/null || need_apt+=(brotli)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need_apt[@]}"
fi

for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || { step "rustup component add $component"; rustup component add "$component"; }
done
rustup target list --installed | grep -qx wasm32-unknown-unknown || { step "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }

# cargo-leptos would download missing tools from GitHub, which is not reachable: install each.
if ! command -v cargo-leptos >/dev/null || ! cargo leptos --version | grep -q ' 0\.3\.10'; then
  step "cargo install cargo-leptos 0.3.10 (about 20 minutes cold)"
  cargo install cargo-leptos --version 0.3.10 --locked
fi
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$wb_version" ]; then
  step "cargo install wasm-bindgen-cli $wb_version"
  cargo install wasm-bindgen-cli --version "=$wb_version" --force
fi
# binaryen from crates.io (116); Debian's 108 produces a release wasm that never hydrates.
if ! command -v wasm-opt >/dev/null || ! wasm-opt --version | grep -q 'version 116'; then
  step "cargo install wasm-opt (about 9 minutes cold)"
  cargo install wasm-opt --locked --force
fi

# cargo-fuzz (crates.io) for the short fuzzing runs; it builds on stable with RUSTC_BOOTSTRAP=1.
if [ "$what" = test ] && ! cargo fuzz --version 2>/dev/null | grep -q ' 0\.13\.2$'; then
  step "cargo install cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# schemathesis and an OpenAPI validator (PyPI), in a virtualenv under target/.
if [ "$what" = test ] && ! target/venv/bin/schemathesis --version 2>/dev/null | grep -q ' 4\.32\.5$'; then
  step "pip install schemathesis openapi-spec-validator (target/venv)"
  python3 -m venv target/venv
  target/venv/bin/pip install -q schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi

if [ "$what" = test ] && [ ! -x end2end/node_modules/.bin/playwright ]; then
  step "npm ci (Playwright; no browser download)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
