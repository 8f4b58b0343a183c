#!/usr/bin/env bash
# PostgreSQL (a private cluster on port 5441) is stopped mid-exam and started again DOWN_SECS
# (default 5) later: requests meanwhile get 503 with Retry-After and the clients resend saves.
#   CANDIDATES=2000 DURATION=5m REPORT=/tmp/report-pg loadtest/scenarios/restart-postgres.sh
source "$(dirname "$0")/lib.sh"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PG_PORT=5441
PG_DIR="$WORK/pg"
as_postgres() { runuser -u postgres -- "$@"; }
mkdir -p "$WORK"
[ -f "$PG_DIR/PG_VERSION" ] || { mkdir -p "$PG_DIR"; chown postgres "$PG_DIR"; as_postgres "$PG_BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust >/dev/null; }
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" -o "-p $PG_PORT -k /tmp -c max_connections=300" -l "$PG_DIR/server.log" -w start >/dev/null
trap 'stop_all; runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null || true' EXIT
PGPORT=$PG_PORT fresh_database hocthi_loadtest
DB=postgres://postgres@127.0.0.1:$PG_PORT/hocthi_loadtest
redis-cli -p 6379 --scan --pattern 'lt:*' | xargs -r redis-cli -p 6379 del >/dev/null
start_instance 18100 one DATABASE_URL=$DB REDIS_URL=redis://127.0.0.1:6379 HOCTHI_HOT_PREFIX=lt:
loadtest http://127.0.0.1:18100 "$DB" --candidates "${CANDIDATES:-2000}" --duration "${DURATION:-5m}" \
  --report-dir "${REPORT:-$WORK/report-pg}" --server-pid "${PIDS[0]}" \
  --fault-at "${FAULT_AT:-90s}" \
  --fault-command "runuser -u postgres -- $PG_BIN/pg_ctl -D $PG_DIR -m fast -w stop >/dev/null; sleep ${DOWN_SECS:-5}; runuser -u postgres -- $PG_BIN/pg_ctl -D $PG_DIR -o '-p $PG_PORT -k /tmp -c max_connections=300' -l $PG_DIR/server.log -w start >/dev/null" "$@"
