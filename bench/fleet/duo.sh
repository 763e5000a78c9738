#!/usr/bin/env bash
# Two builds side by side at fleet scale, in the same seconds of the same machine: the CLI hub of
# checkout A and of checkout B run at once, each with N workers of its own `linkwatch load` (one
# child process), heartbeat 1 s, 1 msg/s of 256 B, --journal. After WAIT s it reads both hubs' and
# both load children's CPU from /proc over 20 s, then prints each load's summary (RTT percentiles).
# The machine's speed drifts by tens of percent within minutes (bench/README.md), so compare A with
# B inside one run, and swap the sides in the next.
#
#   bench/fleet/duo.sh A_DIR B_DIR [N=5000] [WAIT=20]      (each DIR built: npm run build)
#
# Linux only (/proc); loopback only. Needs `ulimit -n` above 2 N + 100.
set -euo pipefail
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd); N=${3:-5000}; WAIT=${4:-20}
NODE=${NODE:-node}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
echo "duo-token-0123456789abcdef" > "$D/tok"; chmod 600 "$D/tok"
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
P1=$((20000 + RANDOM % 10000)); P2=$((P1 + 2))
(cd "$A" && exec $NODE dist/cli/main.js hub --listen 127.0.0.1:$P1 --tokens "$D/tok" --metrics-listen 127.0.0.1:$((P1 + 1)) --heartbeat-interval 1s --journal "$D/ja" > "$D/hubA.log" 2>&1) & HA=$!
(cd "$B" && exec $NODE dist/cli/main.js hub --listen 127.0.0.1:$P2 --tokens "$D/tok" --metrics-listen 127.0.0.1:$((P2 + 1)) --heartbeat-interval 1s --journal "$D/jb" > "$D/hubB.log" 2>&1) & HB=$!
sleep 2
(cd "$A" && exec $NODE dist/cli/main.js load --hub ws://127.0.0.1:$P1 --token-file "$D/tok" --workers "$N" --procs 1 --id-prefix a --duration 40s > "$D/loadA.log" 2>&1) & LA=$!
(cd "$B" && exec $NODE dist/cli/main.js load --hub ws://127.0.0.1:$P2 --token-file "$D/tok" --workers "$N" --procs 1 --id-prefix b --duration 40s > "$D/loadB.log" 2>&1) & LB=$!
sleep "$WAIT"
CA=$(pgrep -P $LA | head -1); CB=$(pgrep -P $LB | head -1)
a0=$(ticks $HA); b0=$(ticks $HB); ca0=$(ticks "$CA"); cb0=$(ticks "$CB"); T0=$(date +%s.%N)
sleep 20
a1=$(ticks $HA); b1=$(ticks $HB); ca1=$(ticks "$CA"); cb1=$(ticks "$CB"); T1=$(date +%s.%N)
pc() { echo "($1 - $2) / ($T1 - $T0)" | bc -l | cut -c1-5; }
echo "hub A $(pc $a1 $a0) %  hub B $(pc $b1 $b0) %  load A $(pc $ca1 $ca0) %  load B $(pc $cb1 $cb0) %  (of one core; clock ticks at 100 Hz)"
wait $LA $LB || true
kill $HA $HB 2>/dev/null || true; wait 2>/dev/null || true
for s in A B; do
  tail -1 "$D/load$s.log" | $NODE -e 'const j = JSON.parse(require("fs").readFileSync(0)); console.log(process.argv[1], "all connected", j.allConnectedMs, "ms, RTT", JSON.stringify(j.rttMs), "lost", j.lost)' "$s"
done
