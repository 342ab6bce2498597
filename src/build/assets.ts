/**
 * The helper scripts Berth puts into every root image. They are POSIX sh so
 * that any root (Debian, busybox) can run them.
 */

/** PID 1 must reap zombies and forward signals: tini when we are PID 1 and it is installed. */
export const INIT = `#!/bin/sh
if [ "$$" = 1 ]; then
  for tini in /usr/bin/tini /sbin/tini; do
    [ -x "$tini" ] && exec "$tini" -g -- /opt/berth/bin/entrypoint "$@"
  done
  echo "berth: warning: no init in this image; run it with the engine's init (--init)" >&2
fi
exec /opt/berth/bin/entrypoint "$@"
`;

/**
 * Runs the runtime scripts of the image and its ancestors (base first), stops on
 * the first failure naming the script, then execs the service command.
 */
export const ENTRYPOINT = `#!/bin/sh
if [ -z "\${BERTH_HOSTNAME:-}" ]; then BERTH_HOSTNAME=$(hostname 2>/dev/null || cat /etc/hostname); fi
if [ -z "\${BERTH_IP:-}" ]; then BERTH_IP=$(hostname -i 2>/dev/null || true); BERTH_IP=\${BERTH_IP%% *}; fi
export BERTH_SERVICE="\${BERTH_SERVICE:-}" BERTH_ENV="\${BERTH_ENV:-}" BERTH_HOSTNAME BERTH_IP
export BERTH_INSTANCE="\${BERTH_INSTANCE:-$BERTH_HOSTNAME}"
export BERTH_RUNTIME_ENV=/run/berth/runtime.env
mkdir -p /run/berth && : > "$BERTH_RUNTIME_ENV"

for script in /opt/berth/runtime.d/*.sh; do
  [ -e "$script" ] || continue
  image=\${script##*/}; image=\${image#*-}; image=\${image%.sh}
  "$script"
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "berth: runtime script images/$image/runtime.sh failed with exit code $status; stopping the container" >&2
    exit "$status"
  fi
done

set -a; . "$BERTH_RUNTIME_ENV"; set +a
if [ "$#" -eq 0 ]; then
  echo "berth: no command to run: set \\"command:\\" on the business image" >&2
  exit 64
fi
if [ -n "\${BERTH_USER:-}" ] && [ "$(id -u)" = 0 ]; then
  while IFS=: read -r name _ _ _ _ home _; do [ "$name" = "$BERTH_USER" ] && export HOME="$home"; done < /etc/passwd
  exec setpriv --reuid="$BERTH_USER" --regid="$BERTH_USER" --init-groups -- "$@"
fi
exec "$@"
`;

/**
 * Runs an image's static.sh at build time with errexit and a line trace the
 * builder reads to name the failing line (and hides from the output).
 */
export const RUN_STATIC = `#!/bin/sh
dir="/opt/berth/images/$1"
shell=/bin/sh
first=$(head -n 1 "$dir/static.sh")
case "$first" in '#!'*) shell=\${first#\\#!} ;; esac
# dash cannot report line numbers; bash runs POSIX scripts and can.
case "$shell" in /bin/sh | /usr/bin/sh | sh) [ -x /bin/bash ] && shell=/bin/bash ;; esac
cd /
# bash ignores PS4 from the environment when run as root, but reads BASH_ENV.
export PS4='+[berth-line:\${LINENO}] ' BASH_ENV=/opt/berth/bin/trace.env
# shellcheck disable=SC2086 # the shebang may carry arguments
$shell -e -x "$dir/static.sh"
status=$?
if [ "$status" -ne 0 ]; then
  echo "berth: images/$1/static.sh failed with exit code $status" >&2
  exit "$status"
fi
`;

export const TRACE_ENV = `PS4='+[berth-line:\${LINENO}] '
`;

export const TRACE_LINE = /^\++\[berth-line:(\d+)\] ?/;

/** bash traces the BASH_ENV assignment itself before the script starts. */
export const TRACE_SETUP = /^\+ PS4=/;
