#!/usr/bin/env bash
# Installs what Berth needs on a Debian machine (run as root), starts the Docker
# Engine when it is not running, and builds Berth. Safe to run again: it only
# does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*"; }

packages=()
command -v dockerd >/dev/null || packages+=(docker.io)
command -v mmdebstrap >/dev/null || command -v debootstrap >/dev/null || packages+=(mmdebstrap)
command -v docker-registry >/dev/null || packages+=(docker-registry)
command -v ip >/dev/null || packages+=(iproute2)
command -v git >/dev/null || packages+=(git)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || packages+=(haproxy)
# The integration tests' tiny root filesystem is Debian's static busybox.
[ -x /bin/busybox ] || packages+=(busybox-static)
# The store's tests on PostgreSQL start clusters of their own (initdb under /usr/lib/postgresql/*/bin).
postgres_missing=false
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { postgres_missing=true; packages+=(postgresql); }

if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${packages[*]}; run this as root (or: apt-get install ${packages[*]})" >&2
    exit 1
  fi
  log "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ "$postgres_missing" = true ]; then
    # Debian's postgresql makes and starts a cluster "main" (port 5432) when installed: the tests
    # start clusters of their own, so none is made.
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

engine_up() {
  node -e '
    const req = require("http").get({ socketPath: process.env.SOCK || "/var/run/docker.sock", path: "/_ping", timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
    req.on("error", () => process.exit(1));
    req.on("timeout", () => process.exit(1));'
}

if [ -z "${DOCKER_HOST:-}" ] && ! engine_up; then
  log "starting dockerd (log: /var/log/berth-dockerd.log)"
  # A session of its own: a Ctrl-C (or the end of the job) that stops the command which started it must not stop the engine with it.
  setsid nohup dockerd >/var/log/berth-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_up && break
    sleep 0.5
  done
  engine_up || { log "dockerd did not come up; see /var/log/berth-dockerd.log" >&2; exit 1; }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  # npm ci runs the package's prepare script, which builds: no second build after it.
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run build --silent
fi

# `berth` on the PATH: a link to this checkout's bin/berth.js, which finds its bundle
# through the link (Node runs the link's target). Made, or pointed at this checkout.
bin_dir=/usr/local/bin
target="$PWD/bin/berth.js"
if [ -e "$bin_dir/berth" ] && [ ! -L "$bin_dir/berth" ]; then
  log "$bin_dir/berth is not a link to a checkout; left as it is (run this checkout's as: node $target)" >&2
elif [ "$(readlink "$bin_dir/berth" 2>/dev/null || true)" != "$target" ]; then
  if mkdir -p "$bin_dir" 2>/dev/null && ln -sfn "$target" "$bin_dir/berth" 2>/dev/null; then
    log "berth is on the PATH: $bin_dir/berth -> $target"
  else
    log "cannot write $bin_dir/berth; run this as root, or: ln -s $target ~/bin/berth" >&2
  fi
fi
