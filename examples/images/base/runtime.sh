#!/bin/sh
set -e
# The engine writes /etc/hosts per container; add the platform's name for this instance if missing
# (an exact field match: grep -w would find "web" in "web.example").
if [ -n "${BERTH_IP:-}" ] && [ -n "${BERTH_HOSTNAME:-}" ] &&
  ! awk -v h="$BERTH_HOSTNAME" '{ for (i = 2; i <= NF; i++) if ($i == h) found = 1 } END { exit !found }' /etc/hosts; then
  echo "$BERTH_IP $BERTH_HOSTNAME" >> /etc/hosts
fi

# The service runs as app, not root: hand it the instance context as a world-readable file.
mkdir -p /run/berth
chmod 755 /run/berth
env | grep '^BERTH_' | sort > /run/berth/context.env.tmp || true
chmod 644 /run/berth/context.env.tmp
mv /run/berth/context.env.tmp /run/berth/context.env

echo "base/runtime.sh: instance ${BERTH_INSTANCE:-?} on ${BERTH_HOSTNAME:-?} (${BERTH_IP:-no ip})"
