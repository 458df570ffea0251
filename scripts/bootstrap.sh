#!/usr/bin/env bash
# Installs what VexFS needs on a fresh Debian 12 machine that has Node/npm,
# then runs `demo` (the main job) or `test` (the whole suite).
#   bash scripts/bootstrap.sh demo [args...]
#   bash scripts/bootstrap.sh test [deno test args...]
#   bash scripts/bootstrap.sh bench [vexfs bench args...]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
shift || true

say() { printf '\033[1mvexfs bootstrap:\033[0m %s\n' "$*" >&2; }

# Debian packages: FUSE (mount), mkfs tools and partitioning (mkfs safety tests),
# xattr tools and a C compiler (ABI tests). Installed only when missing.
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have fusermount3 || need_pkgs+=(fuse3)
[ -e /usr/lib/x86_64-linux-gnu/libfuse3.so.3 ] || need_pkgs+=(libfuse3-3)
if [ "$what" = test ]; then
  have mkfs.ext4 || need_pkgs+=(e2fsprogs)
  have mkfs.xfs || need_pkgs+=(xfsprogs)
  have mkfs.btrfs || need_pkgs+=(btrfs-progs)
  have sfdisk || need_pkgs+=(fdisk)
  have mkfs.vfat || need_pkgs+=(dosfstools)
  have losetup || need_pkgs+=(mount)
  have setfattr || need_pkgs+=(attr)
  have cc || need_pkgs+=(gcc)
  have pkg-config || need_pkgs+=(pkg-config)
  [ -e /usr/include/fuse3/fuse_lowlevel.h ] || need_pkgs+=(libfuse3-dev)
fi
if [ "$what" = bench ]; then
  # vexfs bench: builds libfuse's passthrough_ll example and runs fio
  have cc || need_pkgs+=(gcc)
  have pkg-config || need_pkgs+=(pkg-config)
  [ -e /usr/include/fuse3/fuse_lowlevel.h ] || need_pkgs+=(libfuse3-dev)
  have fio || need_pkgs+=(fio)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${need_pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# Deno (pinned in package.json) and the npm dependencies (pinned in package-lock.json).
stamp=node_modules/.vexfs-lock-stamp
if [ ! -x node_modules/.bin/deno ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm packages (Deno and libraries) from package-lock.json"
  # `npm install --no-save` installs exactly the versions in the lockfile. Not `npm ci`:
  # npm 11 records only this platform's optional @deno/* binary in the lockfile and
  # then `npm ci` refuses the lockfile as out of sync.
  npm install --no-save --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
deno=node_modules/.bin/deno

case "$what" in
  demo) exec "$deno" task --quiet vexfs demo "$@" ;;
  test) exec "$deno" task --quiet test "$@" ;;
  vexfs) exec "$deno" task --quiet vexfs "$@" ;;
  bench) exec "$deno" task --quiet bench "$@" ;;
  *) say "unknown action '$what' (use demo, test, bench or vexfs)"; exit 2 ;;
esac
