#!/usr/bin/env bash
# What a browser downloads for the UI (issue #4's budget: JS + WASM + CSS <= 250 KB brotli):
# each file of the release site's pkg/ raw and brotli-compressed (quality 11, as a server or CDN
# precompresses static files), the total and its ratio to the budget.
# Needs a release build (`cargo leptos build --release`) and Debian's `brotli`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-250000}
pkg=target/site/pkg
[ -f "$pkg/quayside.wasm" ] || { echo "build first: cargo leptos build --release"; exit 1; }
command -v brotli >/dev/null || { echo "missing brotli (apt-get install brotli)"; exit 1; }
total=0
printf '%-16s %10s %10s\n' file raw brotli
for f in quayside.wasm quayside.js quayside.css; do
  raw=$(stat -c %s "$pkg/$f")
  br=$(brotli -q 11 -c "$pkg/$f" | wc -c)
  total=$((total + br))
  printf '%-16s %10d %10d\n' "$f" "$raw" "$br"
done
awk -v t="$total" -v b="$BUDGET" 'BEGIN { printf "%-16s %10s %10d  (budget %d: %.2fx)\n", "total", "", t, b, t / b }'
