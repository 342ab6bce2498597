/**
 * The helper scripts Berth puts into every root image. They are POSIX sh so
 * that any root (Debian, busybox) can run them.
 */
import { createHash } from 'node:crypto';

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
 * Exports the secrets, runs the runtime scripts of the image and its ancestors
 * (base first), stops on the first failure naming the script, then execs the
 * service command, as `user:` when one is set. Its own variables start with
 * `_berth_` so that no secret or runtime variable is overwritten by them.
 */
export const ENTRYPOINT = `#!/bin/sh
if [ -z "\${BERTH_HOSTNAME:-}" ]; then BERTH_HOSTNAME=$(hostname 2>/dev/null || cat /etc/hostname); fi
if [ -z "\${BERTH_IP:-}" ]; then BERTH_IP=$(hostname -i 2>/dev/null || true); BERTH_IP=\${BERTH_IP%% *}; fi
export BERTH_SERVICE="\${BERTH_SERVICE:-}" BERTH_ENV="\${BERTH_ENV:-}" BERTH_HOSTNAME BERTH_IP
export BERTH_INSTANCE="\${BERTH_INSTANCE:-$BERTH_HOSTNAME}"
export BERTH_RUNTIME_ENV=/run/berth/runtime.env
mkdir -p /run/berth && : > "$BERTH_RUNTIME_ENV"

# Secrets: every file /run/secrets/<NAME> (mounted read-only by Run) becomes the
# variable NAME of the runtime scripts and the service, so it is never in the
# container's config. Values are never printed; this script never uses set -x.
if [ -d /run/secrets ]; then
  for _berth_secret in /run/secrets/*; do
    [ -f "$_berth_secret" ] || continue
    _berth_name=\${_berth_secret##*/}
    case "$_berth_name" in
      [!A-Za-z_]* | *[!A-Za-z0-9_]*)
        echo "berth: warning: ignoring secret file /run/secrets/$_berth_name: its name is not a variable name" >&2
        continue ;;
    esac
    if ! _berth_value=$(cat "$_berth_secret"); then
      echo "berth: cannot read the secret /run/secrets/$_berth_name; stopping the container" >&2
      exit 78
    fi
    export "$_berth_name=$_berth_value"
  done
  unset _berth_secret _berth_name _berth_value
fi

for _berth_script in /opt/berth/runtime.d/*.sh; do
  [ -e "$_berth_script" ] || continue
  _berth_image=\${_berth_script##*/}; _berth_image=\${_berth_image#*-}; _berth_image=\${_berth_image%.sh}
  "$_berth_script"
  _berth_status=$?
  if [ "$_berth_status" -ne 0 ]; then
    echo "berth: runtime script images/$_berth_image/runtime.sh failed with exit code $_berth_status; stopping the container" >&2
    exit "$_berth_status"
  fi
done
unset _berth_script _berth_image _berth_status

set -a; . "$BERTH_RUNTIME_ENV"; set +a
if [ "$#" -eq 0 ]; then
  echo "berth: no command to run: set \\"command:\\" on the business image" >&2
  exit 64
fi
if [ -z "\${BERTH_USER:-}" ] || [ "$(id -u)" != 0 ]; then exec "$@"; fi

# Drop to BERTH_USER: "user", "user:group", "uid" or "uid:gid" (names or numbers).
# The group defaults to the user's primary group in /etc/passwd; HOME comes from there.
_berth_user=\${BERTH_USER%%:*} _berth_group= _berth_login= _berth_uid= _berth_gid= _berth_primary=
case "$BERTH_USER" in *:*) _berth_group=\${BERTH_USER#*:} ;; esac
while IFS=: read -r _berth_n _ _berth_u _berth_g _ _berth_h _ || [ -n "$_berth_n" ]; do
  case "$_berth_user" in
    *[!0-9]*) [ "$_berth_n" = "$_berth_user" ] || continue ;;
    *) [ "$_berth_u" = "$_berth_user" ] || continue ;;
  esac
  _berth_login=$_berth_n _berth_uid=$_berth_u _berth_primary=$_berth_g
  export HOME="$_berth_h"
  break
done < /etc/passwd
if [ -z "$_berth_login" ]; then
  case "$_berth_user" in
    *[!0-9]*) echo "berth: user \\"$_berth_user\\" (user: $BERTH_USER) is not in /etc/passwd; create it in a static.sh" >&2; exit 67 ;;
  esac
  # A uid without an /etc/passwd entry: its group is the same number unless given; HOME is /.
  _berth_uid=$_berth_user _berth_primary=$_berth_user
  export HOME=/
fi
case "$_berth_group" in
  '') _berth_gid=$_berth_primary ;;
  *[!0-9]*)
    while IFS=: read -r _berth_n _ _berth_g _ || [ -n "$_berth_n" ]; do
      [ "$_berth_n" = "$_berth_group" ] && { _berth_gid=$_berth_g; break; }
    done < /etc/group
    if [ -z "$_berth_gid" ]; then
      echo "berth: group \\"$_berth_group\\" (user: $BERTH_USER) is not in /etc/group; create it in a static.sh" >&2
      exit 67
    fi ;;
  *) _berth_gid=$_berth_group ;;
esac

# util-linux setpriv (in every Debian root) sets any uid:gid and execs the command.
# busybox's setpriv lacks --reuid, so busybox images use su (the applet, or
# "busybox su" when it has no link), which execs the command too but can only
# take the primary group of a user in /etc/passwd.
case "$(setpriv --help 2>&1)" in
  *--reuid*)
    if [ -n "$_berth_login" ]; then
      exec setpriv --reuid="$_berth_uid" --regid="$_berth_gid" --init-groups -- "$@"
    fi
    exec setpriv --reuid="$_berth_uid" --regid="$_berth_gid" --clear-groups -- "$@" ;;
esac
if [ -z "$_berth_login" ] || [ "$_berth_gid" != "$_berth_primary" ]; then
  echo "berth: cannot run as \\"$BERTH_USER\\" without util-linux setpriv: su runs a user of /etc/passwd with its primary group only; install util-linux or use the user's primary group" >&2
  exit 67
fi
if command -v su >/dev/null 2>&1; then
  exec su -m -s /bin/sh "$_berth_login" -c 'exec "$0" "$@"' "$@"
elif command -v busybox >/dev/null 2>&1; then
  exec busybox su -m -s /bin/sh "$_berth_login" -c 'exec "$0" "$@"' "$@"
fi
echo "berth: cannot run as \\"$BERTH_USER\\": the image has neither util-linux setpriv nor su" >&2
exit 67
`;

/**
 * The health probe that service containers' HEALTHCHECK runs (see runtime/slots.ts):
 * `health http <port> <path>` or `health tcp <port>`, against 127.0.0.1.
 * Debian roots have bash but no curl or wget, so it uses bash's /dev/tcp;
 * busybox images have no bash and use nc, else wget.
 */
export const HEALTH = `#!/bin/sh
# health http <port> <path>   healthy when GET http://127.0.0.1:<port><path> answers 2xx or 3xx
# health tcp <port>           healthy when a TCP connection to 127.0.0.1:<port> opens
# Exits 0 when healthy, 1 when not (never 2, which the engine reserves), with one
# line on stderr. Uses bash's /dev/tcp when bash is installed, else nc, else
# wget. BERTH_HEALTH_TIMEOUT (seconds, default 10) bounds connecting (nc) and
# waiting for the answer (bash); the engine's health check timeout bounds the
# whole probe.
set -f
unhealthy() { echo "unhealthy: $*" >&2; exit 1; }
kind=\${1:-} port=\${2:-} path=\${3:-/} limit=\${BERTH_HEALTH_TIMEOUT:-10}
case "$kind" in http | tcp) ;; *) unhealthy "usage: health http <port> <path> | health tcp <port>" ;; esac
case "$port" in '' | *[!0-9]*) unhealthy "expected a port number, got \\"$port\\"" ;; esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then unhealthy "port $port is not between 1 and 65535"; fi
case "$path" in /*) ;; *) unhealthy "expected a path starting with /, got \\"$path\\"" ;; esac
# 127.0.0.1 never goes through a proxy.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
target=127.0.0.1:$port

have() { command -v "$1" >/dev/null 2>&1; }

if [ "$kind" = tcp ]; then
  if have bash; then
    # shellcheck disable=SC2016 # expanded by bash
    bash -c '{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null' health "$port" && { echo "healthy: $target accepts connections" >&2; exit 0; }
    unhealthy "cannot connect to $target"
  elif have nc; then
    out=$(nc -w "$limit" 127.0.0.1 "$port" </dev/null 2>&1 >/dev/null) && { echo "healthy: $target accepts connections" >&2; exit 0; }
    unhealthy "cannot connect to $target\${out:+: $out}"
  fi
  unhealthy "the image has neither bash nor nc for a TCP probe"
fi

url="http://$target$path"
request() { printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: berth-health\\r\\nConnection: close\\r\\n\\r\\n' "$path" "$target"; }
reason=
if have bash; then
  # shellcheck disable=SC2016 # expanded by bash
  line=$(request | bash -c '
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || exit 10
    cat >&3
    IFS= read -r -t "$2" line <&3 || exit 11
    printf "%s\\n" "$line"' health "$port" "$limit")
  case $? in 10) reason="cannot connect to $target" ;; 11) reason="no answer from $url within $limit s" ;; esac
elif have nc; then
  line=$(request | nc -w "$limit" 127.0.0.1 "$port" 2>/dev/null | { IFS= read -r l; printf '%s\\n' "$l"; })
  if [ -z "$line" ]; then
    if nc -w "$limit" 127.0.0.1 "$port" </dev/null >/dev/null 2>&1; then reason="no answer from $url"; else reason="cannot connect to $target"; fi
  fi
elif have wget; then
  # -S prints the answer's status line; redirects are followed, but only the first answer counts.
  out=$(wget -S -O /dev/null "$url" 2>&1)
  line=
  while IFS= read -r l; do
    case "$l" in *HTTP/*) line=HTTP/\${l#*HTTP/}; break ;; esac
  done <<END
$out
END
  if [ -z "$line" ]; then
    # wget's last line says why, e.g. "wget: can't connect to remote host (127.0.0.1): Connection refused".
    while IFS= read -r l; do [ -z "$l" ] || reason=$l; done <<END
$out
END
    reason=\${reason:-"wget got no answer from $url"}
  fi
else
  unhealthy "the image has none of bash, nc or wget for an HTTP probe"
fi
[ -z "$reason" ] || unhealthy "$reason"
cr=$(printf '\\r')
# shellcheck disable=SC2086 # split the status line into words
set -- $line
code=\${2:-}; code=\${code%"$cr"}
case "$1:$code" in
  HTTP/*:[23][0-9][0-9]) echo "healthy: $url answered $code" >&2; exit 0 ;;
  HTTP/*:[0-9][0-9][0-9]) unhealthy "$url answered $code" ;;
esac
unhealthy "$url did not answer HTTP"
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

/** The files of /opt/berth/bin/ in every root image, in the order they are installed. */
export const BIN_FILES: readonly { name: string; mode: number; content: string }[] = [
  { name: 'init', mode: 0o755, content: INIT },
  { name: 'entrypoint', mode: 0o755, content: ENTRYPOINT },
  { name: 'run-static', mode: 0o755, content: RUN_STATIC },
  { name: 'trace.env', mode: 0o644, content: TRACE_ENV },
  { name: 'health', mode: 0o755, content: HEALTH },
];

/**
 * The first 12 hex digits of the SHA-256 of BIN_FILES. It is part of the recipe
 * version (imaging/plan.ts), so changing a helper rebuilds every image once.
 */
export const ASSETS_DIGEST = createHash('sha256').update(JSON.stringify(BIN_FILES)).digest('hex').slice(0, 12);
