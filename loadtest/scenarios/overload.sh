#!/usr/bin/env bash
# Overload: the baseline at the capacity found (CAPACITY candidates at the default compression),
# then at twice that. Prints useful throughput (acknowledged saves and heartbeats per second) of
# both, their ratio, the refusals (429/503) and the service's memory.
#   CAPACITY=400 DURATION=60s loadtest/scenarios/overload.sh
set -euo pipefail
HERE=$(dirname "$0")
CAPACITY=${CAPACITY:-400}
OUT=${OUT:-/tmp/hocthi-overload}
for n in "$CAPACITY" $((CAPACITY * 2)); do
  CANDIDATES=$n REPORT="$OUT/$n" bash "$HERE/province.sh" "$@" >"$OUT-$n.log" 2>&1 || true
done
python3 - "$OUT/$CAPACITY/report.json" "$OUT/$((CAPACITY * 2))/report.json" <<'PY'
import json, sys
def useful(path):
    r = json.load(open(path))
    q = r["requests"]
    ok = sum(q[k]["ok"] for k in ("save", "heartbeat") if k in q)
    refused = sum(v["refused"] for v in q.values())
    service = next(p for p in r["processes"] if p["name"] == "hocthi")
    return ok / r["run"]["traffic_seconds"], refused, service, r
base, _, m1, r1 = useful(sys.argv[1])
over, refused, m2, r2 = useful(sys.argv[2])
print(f"capacity run: {base:.0f} useful/s; service memory {m1['rss_mb_start']:.0f} -> max {m1['rss_mb_max']:.0f} MB")
print(f"2x run:       {over:.0f} useful/s ({over / base:.1%} of capacity); refused with Retry-After: {refused}; "
      f"service memory {m2['rss_mb_start']:.0f} -> max {m2['rss_mb_max']:.0f} MB; lost answers {r2['lost_answers']}, "
      f"unsubmitted {r2['unsubmitted_attempts']}")
PY
