#!/usr/bin/env bash
# Redis (a private one on port 6391) is shut down and started again mid-exam.
#   CANDIDATES=2000 DURATION=5m REPORT=/tmp/report-redis loadtest/scenarios/restart-redis.sh
source "$(dirname "$0")/lib.sh"
DB=postgres://postgres@127.0.0.1/hocthi_loadtest
REDIS_PORT=6391
REDIS_START="redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no --daemonize yes --pidfile $WORK/redis.pid --logfile $WORK/redis.log"
mkdir -p "$WORK"
redis-cli -p $REDIS_PORT shutdown nosave 2>/dev/null || true
eval "$REDIS_START"
trap 'stop_all; redis-cli -p '$REDIS_PORT' shutdown nosave 2>/dev/null || true' EXIT
fresh_database hocthi_loadtest
start_instance 18100 one DATABASE_URL=$DB REDIS_URL=redis://127.0.0.1:$REDIS_PORT
loadtest http://127.0.0.1:18100 "$DB" --candidates "${CANDIDATES:-2000}" --duration "${DURATION:-5m}" \
  --report-dir "${REPORT:-$WORK/report-redis}" --server-pid "${PIDS[0]}" \
  --fault-at "${FAULT_AT:-90s}" \
  --fault-command "redis-cli -p $REDIS_PORT shutdown nosave; sleep ${DOWN_SECS:-5}; $REDIS_START" "$@"
