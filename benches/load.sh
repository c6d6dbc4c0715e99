#!/usr/bin/env bash
# Load while pushing (issue #7): wrk on the tags page, the history page and /v2 tags/list of one
# repository, while skopeo pushes run in a loop and the server's garbage collector passes every
# few seconds. Reports requests/s, p50/p99 latency, errors (non-2xx/3xx responses, socket
# errors, failed pushes: all must be zero) and the server's peak RSS.
# Needs a release build (`cargo leptos build --release`) and Debian's skopeo umoci wrk curl.
# Tunables: SECONDS_EACH (15), CONNS (16), TAGS (500), PORT (5111).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${SECONDS_EACH:-15} CONNS=${CONNS:-16} TAGS=${TAGS:-500} PORT=${PORT:-5111}
bin=target/release/quayside
[ -x "$bin" ] || { echo "build first: cargo leptos build --release"; exit 1; }
for tool in skopeo umoci wrk curl; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install skopeo umoci wrk curl)"; exit 1; }
done
work=$(mktemp -d /tmp/quayside-load.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

CREDS=admin:load-password
base=http://127.0.0.1:$PORT
QUAYSIDE_ADMIN_PASSWORD=${CREDS#admin:} QUAYSIDE_GC_INTERVAL=5 QUAYSIDE_LOG=warn \
  "$bin" serve --listen 127.0.0.1:$PORT --data-dir "$work/data" --site-root target/site >"$work/server.log" 2>&1 &
server=$!; pids+=($server)
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

# Four small images; one is pushed and tagged TAGS times (the pages list 50 a page).
layout=$work/images
umoci init --layout "$layout"
for i in 1 2 3 4; do
  umoci new --image "$layout:img$i"
  head -c $((512 * 1024)) /dev/urandom > "$work/layer.bin"
  umoci insert --image "$layout:img$i" "$work/layer.bin" /layer.bin >/dev/null
done
skopeo copy -q --dest-tls-verify=false --dest-creds "$CREDS" "oci:$layout:img1" "docker://127.0.0.1:$PORT/bench/load:seed"
curl -sf -u "$CREDS" -X POST -H 'content-type: application/json' -d '{"visibility":"public"}' \
  "$base/api/v1/repository/bench/load/changevisibility" >/dev/null
digest=$(curl -sf "$base/api/v1/repository/bench/load/tag/?specificTag=seed" | sed 's/.*"manifest_digest":"\([^"]*\)".*/\1/')
for i in $(seq 1 "$TAGS"); do
  curl -sf -u "$CREDS" -X PUT -H 'content-type: application/json' -d "{\"manifest_digest\":\"$digest\"}" \
    "$base/api/v1/repository/bench/load/tag/t$i" >/dev/null
done
echo "repository bench/load: $TAGS tags; server pid $server"

# Pushes in a loop until told to stop, each a new tag (moving tags, growing the history).
( n=0; fail=0
  while [ ! -e "$work/stop" ]; do
    n=$((n + 1))
    skopeo copy -q --dest-tls-verify=false --dest-creds "$CREDS" "oci:$layout:img$(( n % 4 + 1 ))" \
      "docker://127.0.0.1:$PORT/bench/load:push$(( n % 20 ))" >/dev/null 2>>"$work/push-errors" || fail=$((fail + 1))
  done
  echo "$n $fail" > "$work/pushes" ) &
pusher=$!
( peak=0
  while [ ! -e "$work/stop" ]; do
    rss=$(ps -o rss= -p "$server" 2>/dev/null | tr -d ' ' || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.2
  done
  echo "$peak" > "$work/rss" ) &
sampler=$!

printf '\n%-28s %10s %10s %10s %8s\n' "endpoint (while pushing)" "req/s" "p50" "p99" "errors"
total_errors=0
for target in "tags page:/repository/bench/load" "history page:/repository/bench/load/history" "v2 tags/list:/v2/bench/load/tags/list"; do
  name=${target%%:*} path=${target#*:}
  out=$(wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "$base$path")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4 + $6 + $8 + $10}' <<<"$out"); sock=${sock:-0}
  errors=$((non2xx + sock)); total_errors=$((total_errors + errors))
  printf '%-28s %10s %10s %10s %8s\n' "$name" "$rps" "$p50" "$p99" "$errors"
done
touch "$work/stop"
wait "$pusher" "$sampler"
read -r pushes push_failures < "$work/pushes"
echo
echo "skopeo pushes meanwhile: $pushes, failed: $push_failures"
echo "server peak RSS: $(( $(cat "$work/rss") / 1024 )) MiB"
[ "$push_failures" -eq 0 ] || { echo "push errors:"; tail -5 "$work/push-errors"; }
if [ "$total_errors" -ne 0 ] || [ "$push_failures" -ne 0 ]; then echo "FAILED: errors under load"; exit 1; fi
echo "no errors"
