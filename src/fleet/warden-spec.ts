/**
 * The warden of a host (pure): its image's recipe, its loop, and its container. One per host,
 * run through that host's engine with restart policy `always` on the host's network and in the
 * host's pid namespace, with the engine's socket and only the capabilities its address work needs:
 * NET_RAW and NET_ADMIN (arping's raw socket), SYS_ADMIN and SYS_PTRACE (entering a moved
 * instance's network namespace by its pid, so its gratuitous ARP carries the instance's MAC:
 * network/arp.ts). Those add nothing the engine's socket does not already give (it can run a
 * privileged container); they let one exec replace a helper container per moved instance.
 * It renews its host's lease with the server (POST /v1/hosts/<host>/lease, TLS checked against
 * the server's CA, its own host token) and, when it cannot before the lease it holds ends, or the
 * server answers 409 (it holds the host down), stops every Berth instance on the host, so an
 * address never answers from two places. A warden that starts (a rebooted host, a restarted
 * engine) holds no lease: until its first renewal succeeds, nothing of Berth runs on its host.
 *
 * The image is Debian's `busybox-static` (sh, arping -D/-U, nsenter, the loop's tools) and `curl` with
 * `ca-certificates`: busybox's wget neither checks a server's certificate nor speaks HTTP over
 * a unix socket, and the warden needs both (the server over TLS, the engine over its socket).
 * A static binary of its own would need a toolchain Berth does not ship; curl is a Debian
 * package like the rest, built with Berth's own hierarchy builder.
 */
import type { CreateBody } from '../engine/containers.js';
import type { SystemImage } from '../imaging/system-image.js';
import { WARDEN_NAME } from '../runtime/labels.js';

export { WARDEN_NAME };
export const WARDEN_LABEL = 'berth.warden';
/** Where the warden's files go (copied in before it starts; the token never in its environment or command). */
export const WARDEN_DIR = '/run/berth-warden';
/** Where the host's engine socket is mounted inside the warden, whatever its path on the host. */
export const WARDEN_ENGINE_SOCKET = '/var/run/docker.sock';

/** The warden's image, built like every system image of Berth (imaging/system-image.ts). */
export const WARDEN_IMAGE: SystemImage = {
  name: 'warden',
  packages: ['busybox-static', 'curl', 'ca-certificates'],
  files: [],
  staticSh: '#!/bin/sh\n',
  command: ['/bin/busybox', 'sh', `${WARDEN_DIR}/warden.sh`],
  labels: { 'berth.role': 'warden' },
};

/**
 * The loop. `valid` is when the lease it holds ends by its own clock, from the moment it asked
 * (never later than the server's end of it). Instances are stopped, never removed: the server
 * removes the ones whose slots moved when the host returns.
 */
export const WARDEN_SCRIPT = `#!/bin/busybox sh
set -u
dir=\${BERTH_WARDEN_DIR:-${WARDEN_DIR}}
token=$(cat "$dir/token")
engine=${WARDEN_ENGINE_SOCKET}
renew=\${BERTH_RENEW_SECONDS:-2}
grace=\${BERTH_STOP_GRACE_SECONDS:-5}
valid=0
say() { echo "berth-warden $BERTH_HOST: $*"; }
stop_all() {
  ids=$(curl -sf --unix-socket "$engine" -G "http://engine/containers/json" --data-urlencode 'filters={"label":["berth.instance"],"status":["running","restarting"]}' | busybox grep -o '"Id":"[0-9a-f]*"' | busybox cut -d'"' -f4)
  for id in $ids; do
    curl -sf --unix-socket "$engine" -X POST "http://engine/containers/$id/stop?t=$grace" >/dev/null && say "stopped $id ($1)"
  done
}
while :; do
  asked=$(busybox date +%s)
  code=$(curl -s -o "$dir/answer" -w '%{http_code}' --max-time "$renew" --cacert "$dir/ca.pem" -X POST -H "Authorization: Bearer $token" "$BERTH_SERVER/v1/hosts/$BERTH_HOST/lease" || echo 000)
  now=$(busybox date +%s)
  case "$code" in
    200)
      ttl=$(busybox grep -o '"ttlMs":[0-9]*' "$dir/answer" | busybox cut -d: -f2)
      valid=$((asked + \${ttl:-0} / 1000)) ;;
    409)
      valid=0
      stop_all "the server holds this host down" ;;
    *)
      if [ "$now" -ge "$valid" ]; then stop_all "no lease (server answered $code)"; fi ;;
  esac
  busybox sleep "$renew"
done
`;

export interface WardenInput {
  host: string;
  /** The image's ID or reference on that host. */
  image: string;
  /** The server's URL as the host reaches it (https://…). */
  server: string;
  project: string;
  renewSeconds: number;
  stopGraceSeconds: number;
  /** The engine's unix socket on the host itself (hosts[].socket), mounted where the loop finds it. */
  socket: string;
}

export function wardenBody(input: WardenInput): CreateBody {
  return {
    name: WARDEN_NAME,
    Image: input.image,
    Env: [`BERTH_SERVER=${input.server}`, `BERTH_HOST=${input.host}`, `BERTH_RENEW_SECONDS=${input.renewSeconds}`, `BERTH_STOP_GRACE_SECONDS=${input.stopGraceSeconds}`],
    Labels: { [WARDEN_LABEL]: input.host, 'berth.project': input.project },
    HostConfig: {
      NetworkMode: 'host',
      PidMode: 'host',
      RestartPolicy: { Name: 'always' },
      CapDrop: ['ALL'],
      CapAdd: ['NET_RAW', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE'],
      Binds: [`${input.socket}:${WARDEN_ENGINE_SOCKET}`],
    },
  };
}
