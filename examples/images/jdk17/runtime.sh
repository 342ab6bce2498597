#!/bin/sh
set -e
# Size the heap from this container's memory limit (cgroup v2, else v1), leaving a quarter for metaspace, threads and buffers.
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo max)
case "$limit" in ''|max|*[!0-9]*) limit=0 ;; esac
mib=$((limit / 1048576))
# No limit reads as "max" (v2) or a huge number (v1): keep the JVM's own default then.
if [ "$mib" -gt 0 ] && [ "$mib" -lt 1048576 ]; then
  heap="-Xmx$((mib * 3 / 4))m"
  opts="$heap${JAVA_OPTS:+ $JAVA_OPTS}"
  # Values are single-quoted: the entrypoint sources this file with sh.
  [ -z "${BERTH_RUNTIME_ENV:-}" ] || echo "JAVA_OPTS='$opts'" >> "$BERTH_RUNTIME_ENV"
  echo "jdk17/runtime.sh: memory limit ${mib} MiB, heap $heap"
else
  echo "jdk17/runtime.sh: no memory limit, JVM default heap"
fi
