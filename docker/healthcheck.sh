#!/bin/bash
# Container health check without curl: one HTTP/1.0 GET over bash's /dev/tcp.
# Exits 0 when the answer's status line is 200, 1 otherwise.
#   usage: llm-proxy-healthcheck PORT [PATH] [HOST]
#   e.g.   llm-proxy-healthcheck 9091 /readyz
set -u
port=${1:?usage: llm-proxy-healthcheck PORT [PATH] [HOST]}
path=${2:-/healthz}
host=${3:-127.0.0.1}
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$host" >&3
IFS=$' \r' read -r -t 5 proto code _ <&3 || { echo "no answer from ${host}:${port}${path}" >&2; exit 1; }
exec 3<&-
if [ "$code" = 200 ]; then
  exit 0
fi
echo "${host}:${port}${path} answered ${proto} ${code}" >&2
exit 1
