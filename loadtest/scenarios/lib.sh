# Shared by the scenario scripts: start HọcThi instances (release build) on a fresh database,
# wait for them, and run the province load test against them. Source it; docs/PERFORMANCE.md
# ("How to reproduce") says what each scenario shows.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release} # another build's binaries, to compare two versions
ADMIN_PASSWORD=${ADMIN_PASSWORD:-loadtest-admin-password-2026}
WORK=${WORK:-/tmp/hocthi-loadtest}
PIDS=()
# Waits for them to exit: a run started right after must not share its fresh database with the
# last run's instance still shutting down (its sweeper found the new, unmigrated database).
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT

wait_ready() { # wait_ready <port>: up to 60 s
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0
    sleep 0.5
  done
  echo "instance on port $1 did not become ready" >&2; return 1
}

fresh_database() { # fresh_database <name>: drops and creates it on the local PostgreSQL
  psql -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U postgres -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
  psql -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U postgres -qc "CREATE DATABASE $1" >/dev/null
}

# start_instance <port> <name> [extra env...]: one service process on PostgreSQL + Redis; its pid
# is appended to PIDS. Instances share one data folder and so its signing key: a token from one
# is good on the other. Every simulated school signs in from 127.0.0.1, so the bound on passkey
# sign-ins started per address (one school's morning) is lifted.
start_instance() {
  local port=$1 name=$2; shift 2
  mkdir -p "$WORK/data"
  env HOCTHI_LISTEN="127.0.0.1:$port" HOCTHI_DATA_DIR="$WORK/data" HOCTHI_SEED_ON_FIRST_START=0 \
    HOCTHI_BOOTSTRAP_ADMIN="admin@so.edu.vn:$ADMIN_PASSWORD" \
    HOCTHI_WEBAUTHN_RP_ID=localhost HOCTHI_WEBAUTHN_ORIGINS="${ORIGIN:-http://localhost:$port}" \
    HOCTHI_PASSKEY_STARTS_PER_ADDRESS=100000000 HOCTHI_PASSKEY_STARTS_TOTAL=100000000 \
    RUST_LOG=warn "$@" "$BIN/hocthi" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_ready "$port"
}

# loadtest <base url> <database url> [flags...]
loadtest() {
  local base=$1 db=$2; shift 2
  HOCTHI_LOADTEST_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$BIN/loadtest" --base-url "$base" \
    --database-url "$db" "$@"
}
