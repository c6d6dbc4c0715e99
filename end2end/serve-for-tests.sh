#!/usr/bin/env bash
# Serves Quayside for the end-to-end tests: a fresh data dir filled by `quayside demo`.
# QUAYSIDE_BIN picks the build (default: the release build cargo-leptos made).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${QUAYSIDE_BIN:-target/release/quayside}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$bin" demo --data-dir "$data"
# The superuser the tests sign in as (created on first start).
export QUAYSIDE_ADMIN_PASSWORD=e2e-admin-password
exec "$bin" serve --listen "127.0.0.1:$1" --data-dir "$data" --site-root target/site
