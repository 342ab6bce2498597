/**
 * The front door's image: Debian's HAProxy and keepalived, socat to reach
 * HAProxy's admin socket from an exec, tini as PID 1, iproute2, and three
 * small scripts. A system image (imaging/system-image.ts, which checks its
 * shape where rollout/door-place.ts builds it): built by the hierarchy builder
 * once per key.
 */

/** Where the door keeps its files inside its container; nothing of it is mounted from the host. */
export const DOOR_PATHS = {
  dir: '/etc/berth-door',
  config: '/etc/berth-door/haproxy.cfg',
  keepalived: '/etc/berth-door/keepalived.conf',
  /** Only processes in the container reach it: the runtime API is never on the network. */
  socket: '/run/berth-door/admin.sock',
  cli: '/usr/local/bin/berth-door-cli',
} as const;

/**
 * HAProxy in the foreground (the container's one service), keepalived beside it when
 * the door shares an address. When HAProxy ends, keepalived is stopped (it lets go of
 * the address, which would otherwise stay on the host's interface) and the container
 * ends with HAProxy's status, so the engine's restart policy brings both back.
 */
const RUN = `#!/bin/sh
conf=${DOOR_PATHS.dir}
mkdir -p /run/berth-door
if [ ! -s "$conf/keepalived.conf" ]; then exec haproxy -f "$conf/haproxy.cfg"; fi
[ -f "$conf/vrrp.env" ] && . "$conf/vrrp.env"
# A member killed without letting go leaves the address on the host's interface (host network): it is not ours at start.
if [ -n "\${BERTH_VIP:-}" ]; then ip -4 addr del "$BERTH_VIP/32" dev "$BERTH_VIP_DEV" 2>/dev/null; fi
haproxy -f "$conf/haproxy.cfg" & haproxy=$!
keepalived --dont-fork --log-console --no-syslog --use-file "$conf/keepalived.conf" --pid /run/berth-door/keepalived.pid --vrrp_pid /run/berth-door/vrrp.pid & keepalived=$!
trap 'kill -USR1 $haproxy 2>/dev/null' USR1 TERM INT
status=0
while kill -0 $haproxy 2>/dev/null; do wait $haproxy; status=$?; done
kill -TERM $keepalived 2>/dev/null
wait $keepalived
exit $status
`;

/** One runtime API command (its only argument) on the admin socket; HAProxy's answer on stdout. */
const CLI = `#!/bin/sh
printf '%s\\n' "$1" | exec socat -t 10 - UNIX-CONNECT:${DOOR_PATHS.socket}
`;

/** keepalived's check: fails when HAProxy does not answer on its admin socket. */
const CHECK = `#!/bin/sh
${DOOR_PATHS.cli} 'show info' 2>/dev/null | grep -q '^Pid:'
`;

const STATIC = `#!/bin/sh
set -e
mkdir -p ${DOOR_PATHS.dir} /run/berth-door
haproxy -v
keepalived --version 2>&1 | head -n 1
`;

export const DOOR_IMAGE = {
  name: 'berth-door',
  packages: ['haproxy', 'keepalived', 'socat', 'tini', 'iproute2'],
  staticSh: STATIC,
  files: [
    { path: '/usr/local/bin/berth-door', content: RUN, mode: 0o755 },
    { path: DOOR_PATHS.cli, content: CLI, mode: 0o755 },
    { path: '/usr/local/bin/berth-door-check', content: CHECK, mode: 0o755 },
  ],
  command: ['/usr/local/bin/berth-door'],
  labels: { 'berth.system': 'door' },
} as const;
