#!/usr/bin/env bash
# Starts the services some tests need when they are not answering:
# PostgreSQL 15 (127.0.0.1:5432, the store's tests on PostgreSQL) and
# Redis 7 (127.0.0.1:6379). Both are installed on this kind of machine and
# usually running; after a reboot or in a fresh CI container they may not
# be. Idempotent; never stops anything. Exits non-zero when a service is
# still not answering, saying which.
set -uo pipefail

rc=0

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  fi
fi
if pg_up; then
  echo "services: PostgreSQL answers on 127.0.0.1:5432"
else
  echo "services: PostgreSQL does not answer on 127.0.0.1:5432 (start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)" >&2
  rc=1
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 50); do redis_up && break; sleep 0.2; done
  fi
fi
if redis_up; then
  echo "services: Redis answers on 127.0.0.1:6379"
else
  echo "services: Redis does not answer on 127.0.0.1:6379 (start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log)" >&2
  rc=1
fi

exit "$rc"
