#!/bin/bash
# Before/after of bench:queue-peers: alternates another build of the queue service (MAIN_QUEUE,
# default /work/main/services/queue/dist/main.js, passed as QUEUE_PEERS_MAIN) and this checkout's
# build, ROUNDS times, same flags, printing each run's summary and the load average around it.
# Each invocation is one round of the bench's own (--rounds 1; a later --rounds in the flags wins).
#   bench/queue-peers-ab.sh 4 --peers ours --protocols lean
set -u
cd "$(dirname "$0")/.."
rounds=$1; shift
main=${MAIN_QUEUE:-/work/main/services/queue/dist/main.js}
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for who in main this; do
    echo "=== round $r $who $(date -u +%H:%M:%S) load: $(cat /proc/loadavg)"
    if [ "$who" = main ]; then
      QUEUE_PEERS_MAIN=$main npm run bench -- --only queue-peers --rounds 1 "$@" > "$out" 2>&1
    else
      npm run bench -- --only queue-peers --rounds 1 "$@" > "$out" 2>&1
    fi
    if grep -q "=== summary ===" "$out"; then sed -n '/=== summary ===/,$p' "$out"; else tail -15 "$out"; fi
    echo "=== end $(date -u +%H:%M:%S) load: $(cat /proc/loadavg)"
  done
done
rm -f "$out"
