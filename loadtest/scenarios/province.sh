#!/usr/bin/env bash
# The baseline: one instance on PostgreSQL + Redis, no fault.
#   CANDIDATES=2000 DURATION=60s REPORT=/tmp/report loadtest/scenarios/province.sh [loadtest flags]
# DB_PARAMS is appended to the database URL, e.g. '?sslmode=disable' for a database on this host.
source "$(dirname "$0")/lib.sh"
DB=postgres://postgres@127.0.0.1/hocthi_loadtest${DB_PARAMS:-}
fresh_database hocthi_loadtest
redis-cli -p 6379 --scan --pattern 'lt:*' | xargs -r redis-cli -p 6379 del >/dev/null
start_instance 18100 one DATABASE_URL=$DB REDIS_URL=redis://127.0.0.1:6379 HOCTHI_HOT_PREFIX=lt:
loadtest http://127.0.0.1:18100 "$DB" --candidates "${CANDIDATES:-2000}" --duration "${DURATION:-60s}" \
  --report-dir "${REPORT:-$WORK/report}" --server-pid "${PIDS[0]}" \
  --watch-name postgres --watch-name redis-server "$@"
