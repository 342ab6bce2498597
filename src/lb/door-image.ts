/**
 * The front door's image: Debian's HAProxy and keepalived, socat to reach
 * HAProxy's admin socket from an exec, tini as PID 1, iproute2, and four
 * small scripts. A system image (imaging/system-image.ts, which checks its
 * shape where rollout/door-place.ts builds it): built by the hierarchy builder
 * once per key.
 */

/** keepalived.conf names its interface by this placeholder (lb/keepalived-config.ts); the start script fills it in. */
export const VRRP_INTERFACE = '@BERTH_VRRP_INTERFACE@';

/** Where the door keeps its files inside its container; nothing of it is mounted from the host. */
export const DOOR_PATHS = {
  dir: '/etc/berth-door',
  config: '/etc/berth-door/haproxy.cfg',
  keepalived: '/etc/berth-door/keepalived.conf',
  /** Only processes in the container reach it: the runtime API is never on the network. */
  socket: '/run/berth-door/admin.sock',
  cli: '/usr/local/bin/berth-door-cli',
  check: '/usr/local/bin/berth-door-check',
  /** keepalived's start script (and `reload`). */
  vrrp: '/usr/local/bin/berth-door-vrrp',
} as const;

/** HAProxy in the foreground: the container's one process (keepalived runs in a container of its own, one per environment and host: berth-door-vrrp). */
const RUN = `#!/bin/sh
mkdir -p /run/berth-door
exec haproxy -f ${DOOR_PATHS.config}
`;

/**
 * keepalived for the doors of one environment on this host (the command of its own container,
 * lb/vrrp-container.ts). keepalived.conf names the interface by a placeholder: it is the one
 * holding this host's own address (BERTH_SELF in vrrp.env), found here, and the filled file goes
 * to /run. `reload` fills it again and tells keepalived to read it (SIGHUP), keeping the address
 * where it is. At start the shared address is not ours: a member killed without letting go
 * (host network) would otherwise still answer for it.
 */
const VRRP = `#!/bin/sh
set -e
conf=${DOOR_PATHS.dir}
run=/run/berth-door
mkdir -p $run
. "$conf/vrrp.env"
dev=$(ip -4 -o addr show | awk -v self="$BERTH_SELF" '{ split($4, a, "/"); if (a[1] == self) { print $2; exit } }')
if [ -z "$dev" ]; then echo "berth-door-vrrp: no interface of this host has its address $BERTH_SELF" >&2; exit 1; fi
sed "s/${VRRP_INTERFACE}/$dev/g" "$conf/keepalived.conf" > $run/keepalived.conf.new
mv $run/keepalived.conf.new $run/keepalived.conf
if [ "\${1:-}" = reload ]; then exec kill -HUP "$(cat $run/keepalived.pid)"; fi
ip -4 addr del "$BERTH_VIP/32" dev "$dev" 2>/dev/null || true
exec keepalived --dont-fork --log-console --no-syslog --use-file $run/keepalived.conf --pid $run/keepalived.pid --vrrp_pid $run/vrrp.pid
`;

/** One runtime API command (its only argument) on the admin socket; HAProxy's answer on stdout. */
const CLI = `#!/bin/sh
printf '%s\\n' "$1" | exec socat -t 10 - UNIX-CONNECT:${DOOR_PATHS.socket}
`;

/**
 * keepalived's check: fails unless a door answers on every ADDRESS:PORT given (a connection that
 * HAProxy accepts, closed without a request: no backend sees it, `option http-ignore-probes` keeps
 * it out of the log).
 */
const CHECK = `#!/bin/sh
[ $# -gt 0 ] || { echo "usage: berth-door-check ADDRESS:PORT..." >&2; exit 2; }
for door in "$@"; do
  socat -u OPEN:/dev/null "TCP:$door,connect-timeout=1" 2>/dev/null || exit 1
done
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
    { path: DOOR_PATHS.check, content: CHECK, mode: 0o755 },
    { path: DOOR_PATHS.vrrp, content: VRRP, mode: 0o755 },
  ],
  command: ['/usr/local/bin/berth-door'],
  labels: { 'berth.system': 'door' },
} as const;
