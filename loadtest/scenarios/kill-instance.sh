#!/usr/bin/env bash
# Two instances behind nginx (Debian's package); one is killed with SIGKILL mid-exam and the
# candidates carry on through the other.
#   CANDIDATES=2000 DURATION=5m REPORT=/tmp/report-kill loadtest/scenarios/kill-instance.sh
source "$(dirname "$0")/lib.sh"
DB=postgres://postgres@127.0.0.1/hocthi_loadtest
PROXY=18200
fresh_database hocthi_loadtest
redis-cli -p 6379 --scan --pattern 'lt:*' | xargs -r redis-cli -p 6379 del >/dev/null
for n in 1 2; do
  start_instance "1810$n" "instance$n" DATABASE_URL=$DB REDIS_URL=redis://127.0.0.1:6379 \
    HOCTHI_HOT_PREFIX=lt: HOCTHI_TRUSTED_PROXIES=127.0.0.1 \
    HOCTHI_WEBAUTHN_ORIGINS="http://localhost:$PROXY"
done
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65535;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  upstream hocthi { server 127.0.0.1:18101 max_fails=1 fail_timeout=30s; server 127.0.0.1:18102 max_fails=1 fail_timeout=30s; keepalive 256; }
  server {
    listen 127.0.0.1:$PROXY;
    client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
    location / {
      proxy_pass http://hocthi;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_buffering off;
      proxy_read_timeout 3600s;
      # A save is a PUT (idempotent, retried by nginx too); everything else the client retries.
      proxy_next_upstream error timeout http_502;
    }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf"
trap 'stop_all; nginx -c "$WORK/nginx/nginx.conf" -s stop' EXIT
VICTIM=${PIDS[0]}
loadtest "http://127.0.0.1:$PROXY" "$DB" --candidates "${CANDIDATES:-2000}" --duration "${DURATION:-5m}" \
  --report-dir "${REPORT:-$WORK/report-kill}" --server-pid "${PIDS[0]}" --server-pid "${PIDS[1]}" \
  --origin "http://localhost:$PROXY" --fault-at "${FAULT_AT:-90s}" --fault-command "kill -9 $VICTIM" "$@"
