#!/usr/bin/env bash
# Every test: unit and property tests, the storage contract on SQLite and on a private PostgreSQL 15
# cluster, HTTP and CLI tests, the wasm isolation check, and the browser tests against the release
# build in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)

.ci/setup.sh test

pgdir=$(mktemp -d /tmp/quayside-pg.XXXXXX)
pgport=${QUAYSIDE_TEST_PG_PORT:-55433}
trap '.ci/postgres.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
eval "$(.ci/postgres.sh start "$pgdir" "$pgport")"
echo "PostgreSQL 15 on $QUAYSIDE_TEST_POSTGRES_URL"

printf '\n== the wasm build cannot reach sqlx or tokio\n'
leaks=$(cargo tree -p app --target wasm32-unknown-unknown --no-default-features --features hydrate -e normal --prefix none \
  | awk '{print $1}' | grep -xE 'sqlx.*|tokio|mio' | sort -u || true)
if [ -n "$leaks" ]; then echo "the hydrate build depends on: $leaks"; exit 1; fi
leaks=$(cargo tree -p registry --target wasm32-unknown-unknown -e normal --prefix none | awk '{print $1}' | grep -xE 'sqlx.*|tokio|leptos.*' | sort -u || true)
if [ -n "$leaks" ]; then echo "the registry crate depends on: $leaks"; exit 1; fi
echo "ok: neither app (hydrate) nor registry depends on sqlx or tokio"

printf '\n== cargo fmt --check, cargo clippy -D warnings (server, and the island for wasm)\n'
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate --locked -- -D warnings

printf '\n== cargo test --workspace (SQLite and PostgreSQL)\n'
logs=$(mktemp -d /tmp/quayside-test-logs.XXXXXX)
cargo test --workspace --locked 2>&1 | tee "$logs/cargo.log"

printf '\n== cargo leptos build --release\n'
cargo leptos build --release
bash benches/bundle.sh

printf '\n== end-to-end tests in Chromium (release build)\n'
(cd end2end && npx playwright test) 2>&1 | tee "$logs/e2e.log"

printf '\n== the OpenAPI document validated, then schemathesis against the release build\n'
.ci/schemathesis.sh target/release/quayside 3952 50 2>&1 | tee "$logs/schemathesis.log"

printf '\n== fuzzing: every regression input, then each target for %s seconds\n' "${FUZZ_SECONDS:=10}"
if ! (cd fuzz && for target in manifest names content_range; do
  mkdir -p "regressions/$target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "regressions/$target" -- -runs=0 || exit 1
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" -- -max_total_time="$FUZZ_SECONDS" || exit 1
done) > "$logs/fuzz.log" 2>&1; then
  tail -60 "$logs/fuzz.log"; echo "fuzzing failed (a crash input is under fuzz/artifacts/)"; exit 1
fi
grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/fuzz.log" || true
echo "fuzzing: 3 targets, no crash"

# One closing line over every runner (set -o pipefail stopped the script on any failure above).
cargo_passed=$(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$logs/cargo.log")
e2e_passed=$(sed 's/\x1b\[[0-9;]*m//g' "$logs/e2e.log" | awk '$2 == "passed" && $1 ~ /^[0-9]+$/ { n = $1 } END { print n + 0 }')
st_passed=$(awk '/generated, .* passed/ { n = $(NF - 1) } END { print n + 0 }' "$logs/schemathesis.log")
echo "finished in $(( $(date +%s) - start )) s ($st_passed schemathesis cases passed)"
echo "tests: $(( cargo_passed + e2e_passed + 1 )) passed, 0 failed"
