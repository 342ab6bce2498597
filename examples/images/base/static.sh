#!/bin/sh
# Point apt at BERTH_MIRROR only: the root may list other hosts, and children's static.sh run apt-get.
. /etc/os-release
mirror="${BERTH_MIRROR:-http://deb.debian.org/debian}"
rm -f /etc/apt/sources.list.d/debian.sources
{
  echo "deb $mirror $VERSION_CODENAME main"
  echo "deb $mirror $VERSION_CODENAME-updates main"
  # Security updates live beside the archive on deb.debian.org and most full mirrors.
  case "$mirror" in */debian) echo "deb ${mirror%/debian}/debian-security $VERSION_CODENAME-security main" ;; esac
} > /etc/apt/sources.list

: "${TZ:=Etc/UTC}"
test -f "/usr/share/zoneinfo/$TZ"
ln -sf "/usr/share/zoneinfo/$TZ" /etc/localtime
echo "$TZ" > /etc/timezone

# C.UTF-8 is built into glibc; any other UTF-8 locale has to be generated.
: "${LANG:=C.UTF-8}"
case "$LANG" in
  C.*|POSIX) ;;
  *) echo "$LANG ${LANG#*.}" >> /etc/locale.gen; locale-gen ;;
esac
echo "LANG=$LANG" > /etc/default/locale

# The service user; its home holds the app, which stays root-owned so the service cannot rewrite its own code.
useradd --uid 1000 --user-group --home-dir /srv/app --no-create-home --shell /usr/sbin/nologin app
mkdir -p /srv/app
