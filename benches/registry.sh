#!/usr/bin/env bash
# Quayside vs Debian's docker-registry (distribution 2.8.2), in one run, on loopback:
#  1. push and pull the same image set with skopeo (throughput, median of ROUNDS);
#  2. the same for one 64 MiB blob with curl (the servers alone, without skopeo's costs);
#  3. wrk on /v2/<repo>/tags/list of a repository with 10,000 tags.
# Prints the figures and the ratios. Needs a release build: `cargo leptos build --release`.
# Tunables: ROUNDS (3), IMAGES (4), LAYER_MIB (16), TAGS (10000), WRK_SECONDS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} IMAGES=${IMAGES:-4} LAYER_MIB=${LAYER_MIB:-16} TAGS=${TAGS:-10000} WRK_SECONDS=${WRK_SECONDS:-10}
QPORT=${QPORT:-5101} DPORT=${DPORT:-5102}
bin=target/release/quayside
[ -x "$bin" ] || { echo "build first: cargo leptos build --release"; exit 1; }
for tool in skopeo umoci docker-registry wrk curl jq; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install skopeo umoci docker-registry wrk curl jq)"; exit 1; }
done

work=$(mktemp -d /tmp/quayside-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# --- the image set: IMAGES images, 2 random layers of LAYER_MIB each -------------------------
layout=$work/images
umoci init --layout "$layout"
for i in $(seq 1 "$IMAGES"); do
  umoci new --image "$layout:img$i"
  for l in 1 2; do
    head -c $((LAYER_MIB * 1024 * 1024)) /dev/urandom > "$work/layer.bin"
    umoci insert --image "$layout:img$i" "$work/layer.bin" "/layer$l.bin" >/dev/null
  done
done
total_bytes=$(du -sb "$layout/blobs" | cut -f1)
echo "image set: $IMAGES images, $(( total_bytes / 1024 / 1024 )) MiB of blobs"

# --- the two registries -----------------------------------------------------------------------
mkdir -p "$work/q" "$work/d"
# Quayside requires sign-in: every client call below carries the superuser's credentials (the
# peer runs without auth and ignores them). /v2 clients go through the token flow as in production.
CREDS=admin:bench-password
QUAYSIDE_ADMIN_PASSWORD=${CREDS#admin:} "$bin" serve --listen 127.0.0.1:$QPORT --data-dir "$work/q" >"$work/q.log" 2>&1 & pids+=($!)
cat > "$work/d.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $work/d }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$DPORT }
YML
docker-registry serve "$work/d.yml" >"$work/d.log" 2>&1 & pids+=($!)
for port in $QPORT $DPORT; do
  for _ in $(seq 50); do curl -sf -u "$CREDS" "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.2; done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

# --- push / pull throughput ---------------------------------------------------------------------
declare -A push pull
for name in quayside distribution; do
  port=$([ $name = quayside ] && echo $QPORT || echo $DPORT)
  : > "$work/$name.push"; : > "$work/$name.pull"
  for r in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    for i in $(seq 1 "$IMAGES"); do
      skopeo copy -q --dest-tls-verify=false --dest-creds "$CREDS" "oci:$layout:img$i" "docker://127.0.0.1:$port/bench/round$r-img$i:latest" >/dev/null
    done
    t1=$(now)
    rm -rf "$work/pull"
    for i in $(seq 1 "$IMAGES"); do
      skopeo copy -q --src-tls-verify=false --src-creds "$CREDS" "docker://127.0.0.1:$port/bench/round$r-img$i:latest" "oci:$work/pull:img$i" >/dev/null
    done
    t2=$(now)
    echo "$total_bytes / ($t1 - $t0) / 1048576" | bc -l >> "$work/$name.push"
    echo "$total_bytes / ($t2 - $t1) / 1048576" | bc -l >> "$work/$name.pull"
  done
  push[$name]=$(median < "$work/$name.push")
  pull[$name]=$(median < "$work/$name.pull")
done

# --- raw blob transfer (curl, one 64 MiB blob): the servers without skopeo's own costs ----------
head -c $((64 * 1024 * 1024)) /dev/urandom > "$work/blob.bin"
blob_digest=sha256:$(sha256sum "$work/blob.bin" | cut -d' ' -f1)
declare -A rawpush rawpull
for name in quayside distribution; do
  port=$([ $name = quayside ] && echo $QPORT || echo $DPORT)
  : > "$work/$name.rawpush"; : > "$work/$name.rawpull"
  for r in $(seq 1 $((ROUNDS * 2 - 1))); do
    loc=$(curl -sf -u "$CREDS" -D - -o /dev/null -X POST "http://127.0.0.1:$port/v2/bench/raw$r/blobs/uploads/" | awk -F': ' 'tolower($1) == "location" { print $2 }' | tr -d '\r')
    case "$loc" in http*) ;; *) loc="http://127.0.0.1:$port$loc" ;; esac
    case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
    curl -sf -u "$CREDS" -o /dev/null -w '%{speed_upload}\n' -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary @"$work/blob.bin" "$loc${sep}digest=$blob_digest" | awk '{ print $1 / 1048576 }' >> "$work/$name.rawpush"
    curl -sf -u "$CREDS" -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$port/v2/bench/raw$r/blobs/$blob_digest" \
      | awk '{ print $1 / 1048576 }' >> "$work/$name.rawpull"
  done
  rawpush[$name]=$(median < "$work/$name.rawpush")
  rawpull[$name]=$(median < "$work/$name.rawpull")
done

# --- tags/list of a repository with TAGS tags -----------------------------------------------------
for name in quayside distribution; do
  port=$([ $name = quayside ] && echo $QPORT || echo $DPORT)
  ref="docker://127.0.0.1:$port/bench/tags:t0"
  skopeo copy -q --dest-tls-verify=false --dest-creds "$CREDS" "oci:$layout:img1" "$ref" >/dev/null
  skopeo inspect --raw --tls-verify=false --creds "$CREDS" "$ref" > "$work/manifest.json"
  mt=$(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$work/manifest.json")
  seq 1 $((TAGS - 1)) | xargs -P 8 -I{} curl -sf -u "$CREDS" -o /dev/null -X PUT -H "Content-Type: $mt" \
    --data-binary @"$work/manifest.json" "http://127.0.0.1:$port/v2/bench/tags/manifests/t{}"
  count=$(curl -sf -u "$CREDS" "http://127.0.0.1:$port/v2/bench/tags/tags/list?n=100000" | jq '.tags | length')
  [ "$count" = "$TAGS" ] || { echo "$name lists $count tags, expected $TAGS"; exit 1; }
done
declare -A rps p99
for name in quayside distribution; do
  port=$([ $name = quayside ] && echo $QPORT || echo $DPORT)
  out=$(wrk -t2 -c16 -d"${WRK_SECONDS}s" --latency -H "Authorization: Basic $(printf %s "$CREDS" | base64)" "http://127.0.0.1:$port/v2/bench/tags/tags/list?n=$TAGS")
  rps[$name]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99[$name]=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  [ -z "$errors" ] || echo "$name wrk errors: $errors"
done

ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '\n%-28s %14s %14s %8s\n' "" quayside distribution ratio
printf '%-28s %14.1f %14.1f %7sx\n' "push MiB/s (median of $ROUNDS)" "${push[quayside]}" "${push[distribution]}" "$(ratio "${push[quayside]}" "${push[distribution]}")"
printf '%-28s %14.1f %14.1f %7sx\n' "pull MiB/s (median of $ROUNDS)" "${pull[quayside]}" "${pull[distribution]}" "$(ratio "${pull[quayside]}" "${pull[distribution]}")"
printf '%-28s %14.1f %14.1f %7sx\n' "raw blob PUT MiB/s (curl)" "${rawpush[quayside]}" "${rawpush[distribution]}" "$(ratio "${rawpush[quayside]}" "${rawpush[distribution]}")"
printf '%-28s %14.1f %14.1f %7sx\n' "raw blob GET MiB/s (curl)" "${rawpull[quayside]}" "${rawpull[distribution]}" "$(ratio "${rawpull[quayside]}" "${rawpull[distribution]}")"
printf '%-28s %14.1f %14.1f %7sx\n' "tags/list req/s ($TAGS tags)" "${rps[quayside]}" "${rps[distribution]}" "$(ratio "${rps[quayside]}" "${rps[distribution]}")"
printf '%-28s %14s %14s\n' "tags/list p99 latency" "${p99[quayside]}" "${p99[distribution]}"
