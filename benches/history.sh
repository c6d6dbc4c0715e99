#!/usr/bin/env bash
# The tag-history page at scale (issue #4's budget): a repository with ROWS_SMALL (1,000) and
# ROWS_LARGE (1,000,000) history rows, seeded in bulk through the storage layer
# (`examples/seed_history.rs`), then the page's first page (and pages half-way down) measured two ways:
#   - one client, REQUESTS sequential requests: the server time per page, median and p99 (page 1
#     again and again; pages N/2, N/2 + 1, ... in turn by number, and from page N/2 on by the
#     pager's Next links, which carry a cursor: at 1M rows none from the server's page cache);
#   - wrk with CONNS (16) connections for SECONDS_EACH: requests/s, p50, p99 (queueing included),
#     errors (non-2xx answers and socket errors); once on page 1 (after the first request the
#     server's page cache answers it), once with each request a different page, 1 to 1,000 in
#     turn (`benches/pages.lua`: at 1M rows every request misses that cache; 1k rows have 20).
#     For page 1 also the server's own time (`--metrics-listen`: from the request's arrival at the
#     router to its response, which for a page is all of it), p50 and p99, without the load
#     generator's share of the machine's two cores and its socket reads;
#   - CONNS clients at once asking for one page not in the cache (a deep page by number, BURSTS
#     (9) times, another each time): median and max of the time until the last is answered. The
#     server reads the page once for all of them.
# Prints the figures and the 1M/1k ratios in one run. Backend: SQLite in the data dir (default)
# or BACKEND=postgres with QUAYSIDE_TEST_POSTGRES_URL (a server URL; a database is created).
# Needs a release build (`cargo leptos build --release`), wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS_SMALL=${ROWS_SMALL:-1000} ROWS_LARGE=${ROWS_LARGE:-1000000} CONNS=${CONNS:-16} SECONDS_EACH=${SECONDS_EACH:-10}
REQUESTS=${REQUESTS:-300} BURSTS=${BURSTS:-9} PORT=${PORT:-5112} BACKEND=${BACKEND:-sqlite}
bin=target/release/quayside
[ -x "$bin" ] || { echo "build first: cargo leptos build --release"; exit 1; }
for tool in wrk curl; do command -v $tool >/dev/null || { echo "missing $tool (apt-get install wrk curl)"; exit 1; }; done
cargo build -q --release --example seed_history --no-default-features --features ssr
seed=target/release/examples/seed_history
work=$(mktemp -d /tmp/quayside-history.XXXXXX)
server=
dbs=()
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
  # The PostgreSQL databases go too (a million rows each).
  for db in "${dbs[@]}"; do psql -q "${QUAYSIDE_TEST_POSTGRES_URL}/postgres" -c "DROP DATABASE IF EXISTS $db" || true; done
}
trap cleanup EXIT
base=http://127.0.0.1:$PORT
metrics=http://127.0.0.1:$(( PORT + 1 ))/metrics
page=/repository/bench/history/history

# Sequential requests: median and p99 of curl's total time, in ms. `sequential PATH` asks for one
# page REQUESTS times; `sequential PATH FIRST LAST` for the pages FIRST, FIRST + 1, ... LAST in
# turn (with more of them than REQUESTS, none comes from the server's cache of recent pages).
sequential() {
  local url
  for i in $(seq 0 $(( REQUESTS - 1 ))); do
    url="$base$1"
    [ $# -gt 1 ] && url="$url?page=$(( $2 + i % ($3 - $2 + 1) ))"
    curl -s -o /dev/null -w '%{time_total}\n' "$url"
  done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.2f %.2f", t[int(NR * 0.5 + 0.5)], t[int(NR * 0.99 + 0.5)] }'
}

# The Next link of the page in file $1 (none on the last page).
next_link() {
  grep -o 'href="[^"]*" rel="next"' "$1" | head -1 | sed -e 's/^href="//' -e 's/" rel="next"$//' -e 's/&amp;/\&/g' || true
}

# Following the pager's Next link (the page after this one's last row) REQUESTS times from the
# page FIRST (asked by number, not timed; again after the last page): median and p99 in ms, as
# `sequential`. At 1M rows none of these pages is in the server's cache of recent pages.
walk() {
  local next body=$work/walk.html
  : >"$body"
  for _ in $(seq "$REQUESTS"); do
    next=$(next_link "$body")
    [ -n "$next" ] || { curl -sf -o "$body" "$base$1?page=$2"; next=$(next_link "$body"); }
    curl -s -o "$body" -w '%{time_total}\n' "$base$next"
  done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.2f %.2f", t[int(NR * 0.5 + 0.5)], t[int(NR * 0.99 + 0.5)] }'
  rm -f "$body"
}

# CONNS clients asking at once for a page not in the server's cache, BURSTS times, each time
# another page by number from FIRST on: median and max, in ms, of the time until the last of them
# is answered. (The server reads such a page once for all of them; the others wait for that read.)
burst() {
  local i c url args
  for i in $(seq 0 $(( BURSTS - 1 ))); do
    url="$base$1?page=$(( $2 + i ))"
    args=()
    for c in $(seq "$CONNS"); do args+=(-o /dev/null "$url"); done
    curl -s --parallel --parallel-immediate --parallel-max "$CONNS" -w '%{time_total}\n' "${args[@]}" 2>/dev/null | sort -n | tail -1
  done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.1f %.1f", t[int(NR * 0.5 + 0.5)], t[NR] }'
}

# wrk on a page: "requests/s p50 p99 errors", errors counting non-2xx answers and socket errors.
load() {
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "$@")
  awk '/Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
       /Non-2xx/ { errors += $NF }
       /Socket errors/ { for (i = 4; i <= NF; i += 2) { sub(",", "", $i); errors += $i } }
       END { printf "%s %s %s %d", rps, p50, p99, errors }' <<<"$out"
}

# The server's own time for the requests between two scrapes of its /metrics (`before` and
# `after` files): "p50 p99" in ms, each the upper bound of the half-millisecond bucket it falls
# in, for the series (method, route, status) that grew the most: the page wrk asked for.
server_time() {
  awk 'FNR == 1 { file++ }
       /^quayside_http_request_duration_seconds_bucket[{]/ {
         match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
         series = $0; sub(/,?le="[^"]*"/, "", series); sub(/ [^ ]*$/, "", series)
         if (file == 1) { before[series, le] = $NF }
         else { after[series, le] = $NF; if (!((series, le) in seen)) { seen[series, le] = 1; les[series] = les[series] " " le } }
       }
       END {
         for (s in les) { d = after[s, "+Inf"] - before[s, "+Inf"]; if (d > best) { best = d; top = s } }
         n = split(les[top], bounds, " ")
         for (i = 1; i <= n; i++) {
           d = after[top, bounds[i]] - before[top, bounds[i]]
           if (p50 == "" && d >= 0.5 * best) p50 = bounds[i]
           if (p99 == "" && d >= 0.99 * best) p99 = bounds[i]
         }
         printf "%.1f %.1f", p50 * 1000, p99 * 1000
       }' "$1" "$2"
}

# `load` (below) on a page, with the server's time for it: "requests/s p50 p99 errors server-p50
# server-p99".
measured_load() {
  curl -s "$metrics" >"$work/before"
  local out
  out=$(load "$@")
  curl -s "$metrics" >"$work/after"
  echo "$out $(server_time "$work/before" "$work/after")"
}

declare -A figures
for rows in "$ROWS_SMALL" "$ROWS_LARGE"; do
  data=$work/data-$rows
  mkdir -p "$data"
  if [ "$BACKEND" = postgres ]; then
    db="history_bench_${rows}_$$"
    psql -q "${QUAYSIDE_TEST_POSTGRES_URL}/postgres" -c "CREATE DATABASE $db"
    dbs+=("$db")
    url="${QUAYSIDE_TEST_POSTGRES_URL}/$db"
  else
    url="sqlite://$data/quayside.db?mode=rwc"
  fi
  start=$(date +%s.%N)
  "$seed" --database-url "$url" --rows "$rows"
  printf 'seeded %s rows in %.1f s\n' "$rows" "$(echo "$(date +%s.%N) - $start" | bc)"
  # Measure the steady state, not autovacuum's first pass over a million fresh rows.
  [ "$BACKEND" = postgres ] && psql -q "$url" -c "VACUUM ANALYZE tag"
  QUAYSIDE_LOG=warn QUAYSIDE_GC_INTERVAL=0 "$bin" serve --listen 127.0.0.1:$PORT --database-url "$url" --data-dir "$data" \
    --site-root target/site --metrics-listen 127.0.0.1:$(( PORT + 1 )) >"$work/server-$rows.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -o /dev/null "$base$page" || { echo "the history page does not answer"; cat "$work/server-$rows.log"; exit 1; }
  # Half-way down: the pages from there on in turn (at 1M rows each once; 1k rows have 11, so
  # after the first round they come from the cache).
  deep=$(( rows / 50 / 2 ))
  read -r s50 s99 <<<"$(sequential "$page")"
  read -r d50 d99 <<<"$(sequential "$page" "$deep" $(( rows / 50 )))"
  read -r n50 n99 <<<"$(walk "$page" "$deep")"
  # Past the pages `sequential` asked for (1k rows have too few: those come from the cache).
  read -r b50 bmax <<<"$(burst "$page" $(( deep + REQUESTS + 1 )))"
  figures[$rows]="$s50 $s99 $d50 $d99 $(measured_load "$base$page") $(PAGES=$(( rows / 50 < 1000 ? rows / 50 : 1000 )) load -s benches/pages.lua "$base$page") $deep $n50 $n99 $b50 $bmax"
  kill "$server"; wait "$server" 2>/dev/null || true; server=
done

printf '\n%-9s %-22s %-30s %-22s %-38s %-26s %-48s %s\n' "rows" "page 1, one client:" "pages N/2 on, by number:" "by Next links:" \
  "page 1, wrk -c$CONNS (at wrk):" "(in the server):" "pages 1 to 1000 (or 20) by number, wrk -c$CONNS:" "$CONNS at once, a new page:"
printf '%-9s %-22s %-30s %-22s %-38s %-26s %-48s %s\n' "" "median / p99" "median / p99" "median / p99" "req/s, p50, p99, errors" "p50 / p99 (0.5 ms buckets)" \
  "req/s, p50, p99, errors" "last answer, median / max"
for rows in "$ROWS_SMALL" "$ROWS_LARGE"; do
  read -r s50 s99 d50 d99 rps w50 w99 errors t50 t99 mrps m50 m99 merrors deep n50 n99 b50 bmax <<<"${figures[$rows]}"
  printf '%-9s %-22s %-30s %-22s %-38s %-26s %-48s %s\n' "$rows" "$s50 / $s99 ms" "$d50 / $d99 ms (from page $deep)" "$n50 / $n99 ms" \
    "$rps, $w50, $w99, $errors" "$t50 / $t99 ms" "$mrps, $m50, $m99, $merrors" "$b50 / $bmax ms"
done
read -r small50 _ <<<"${figures[$ROWS_SMALL]}"
read -r large50 _ <<<"${figures[$ROWS_LARGE]}"
awk -v a="$large50" -v b="$small50" -v l="$ROWS_LARGE" -v s="$ROWS_SMALL" \
  'BEGIN { printf "\npage 1 at %d rows / at %d rows (one client, medians): %.2fx (budget 1.5x)\n", l, s, a / b }'
