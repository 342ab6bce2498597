#!/bin/sh
set -e
port="${PORT:-8080}"
case "$port" in ''|*[!0-9]*) echo "tomcat/runtime.sh: PORT must be a number, got '$port'" >&2; exit 1 ;; esac
# jvmRoute is appended to session ids for sticky balancing: keep it to safe characters.
route=$(printf %s "${BERTH_INSTANCE:-$(cat /etc/hostname)}" | tr -c 'A-Za-z0-9._-' _)
# server.xml reads these as ${berth.http.port} and ${berth.jvm.route}. Single-quoted: the entrypoint sources this file.
opts="-Dberth.http.port=$port -Dberth.jvm.route=$route${CATALINA_OPTS:+ $CATALINA_OPTS}"
[ -z "${BERTH_RUNTIME_ENV:-}" ] || echo "CATALINA_OPTS='$opts'" >> "$BERTH_RUNTIME_ENV"
echo "tomcat/runtime.sh: HTTP on port $port, jvmRoute $route"
