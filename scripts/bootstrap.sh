#!/usr/bin/env bash
# Installs what VexFS needs on a fresh Debian 12 machine that has Node/npm,
# then runs `demo` (the main job) or `test` (the whole suite).
#   bash scripts/bootstrap.sh demo [args...]
#   bash scripts/bootstrap.sh test [deno test args...]
#   bash scripts/bootstrap.sh bench [vexfs bench args...]
#   bash scripts/bootstrap.sh vexfs <command> [args...]
#   bash scripts/bootstrap.sh deno [deno args...]      (the pinned Deno itself)
#
# The last step replaces this shell with the real Deno binary (exec), so the
# launcher is Deno itself: its exit status is Deno's (128+N, e.g. 137, when a
# signal N kills it) and signals sent to the launcher (SIGTERM to a
# `vexfs mount -f`) reach Deno. Never node_modules/.bin/deno: that is npm's
# Node wrapper (deno/bin.cjs), which exits 0 when Deno dies on a signal and
# does not pass SIGTERM on. Nor `deno task`: inside a task, `deno` resolves to
# that same wrapper (node_modules/.bin comes first), and deno task reports a
# child killed by a signal as exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
shift || true

say() { printf '\033[1mvexfs bootstrap:\033[0m %s\n' "$*" >&2; }

# Debian packages: FUSE (mount), mkfs tools and partitioning (mkfs safety tests),
# xattr and ACL tools and a C compiler (ABI tests). Installed only when missing.
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
if [ "$what" != deno ]; then
  have fusermount3 || need_pkgs+=(fuse3)
  [ -e /usr/lib/x86_64-linux-gnu/libfuse3.so.3 ] || need_pkgs+=(libfuse3-3)
fi
if [ "$what" = test ]; then
  have mkfs.ext4 || need_pkgs+=(e2fsprogs)
  have mkfs.xfs || need_pkgs+=(xfsprogs)
  have mkfs.btrfs || need_pkgs+=(btrfs-progs)
  have sfdisk || need_pkgs+=(fdisk)
  have mkfs.vfat || need_pkgs+=(dosfstools)
  # mkfs signature tests: minix, cramfs and swap images (util-linux on Debian 12; libblkid1 is what mkfs probes with)
  { have mkfs.minix && have mkfs.cramfs && have mkswap && have blkid; } || need_pkgs+=(util-linux)
  [ -e /usr/lib/x86_64-linux-gnu/libblkid.so.1 ] || need_pkgs+=(libblkid1)
  have losetup || need_pkgs+=(mount)
  have setfattr || need_pkgs+=(attr)
  # man pages (src/docs/man_test.ts: groff -ww, man -M) and shell completions (src/docs/completion_test.ts: zsh)
  have groff || need_pkgs+=(groff-base)
  have man || need_pkgs+=(man-db)
  have zsh || need_pkgs+=(zsh)
  have setfacl || need_pkgs+=(acl)
  have cc || need_pkgs+=(gcc)
  have pkg-config || need_pkgs+=(pkg-config)
  [ -e /usr/include/fuse3/fuse_lowlevel.h ] || need_pkgs+=(libfuse3-dev)
  # clang and wasm-ld: src/wasm/build_test.ts rebuilds the WebAssembly modules from wasm/*.c
  have clang || need_pkgs+=(clang)
  have wasm-ld || need_pkgs+=(lld)
  # src/mount/nfs_test.ts: an NFS export of a mount through a user-space server and client
  have ganesha.nfsd || need_pkgs+=(nfs-ganesha nfs-ganesha-vfs)
  [ -e /usr/lib/x86_64-linux-gnu/libnfs.so.13 ] || need_pkgs+=(libnfs13)
  # src/kernel/qemu_test.ts: Debian's kernels booted under QEMU (TCG) with a busybox initramfs; the kernel
  # packages themselves are fetched by the harness with 'apt-get download' into its cache (src/kernel/debian_kernel.ts)
  have qemu-system-x86_64 || need_pkgs+=(qemu-system-x86)
  dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
  have cpio || need_pkgs+=(cpio)
  { have depmod && have modinfo; } || need_pkgs+=(kmod)
  have xz || need_pkgs+=(xz-utils)
  have zstd || need_pkgs+=(zstd) # 6.12 kernels are zstd-compressed; the harness boots them uncompressed (PVH)
  # src/kernel/build_test.ts: 'vexfs build' against Debian bookworm's 6.1 and bookworm-security's 6.12 headers
  # (W=1 clean), the newest N/M whose image is also packaged (the kernel the QEMU tests boot); make and gcc-12
  have make || need_pkgs+=(make)
  have gcc-12 || need_pkgs+=(gcc-12)
  names="$(apt-cache pkgnames linux-image-6. 2>/dev/null; apt-cache pkgnames linux-headers-6. 2>/dev/null)"
  if [ -z "$names" ]; then # a fresh machine: no apt lists yet
    $([ "$(id -u)" -eq 0 ] || echo sudo) apt-get update -qq
    names="$(apt-cache pkgnames linux-image-6. 2>/dev/null; apt-cache pkgnames linux-headers-6. 2>/dev/null)"
  fi
  for series in '6\.1\.0-[0-9]+' '6\.12\.[0-9]+\+deb12'; do
    newest="$(printf '%s\n' "$names" | grep -oE "^linux-image-${series}-amd64\$" | sed 's/^linux-image-//' |
      while read -r rel; do grep -qxF -- "linux-headers-$rel" <<<"$names" && echo "$rel"; done |
      sort -V | tail -n 1)" || true # under pipefail a grep that finds nothing must not end the script
    if [ -n "$newest" ] && [ ! -e "/usr/src/linux-headers-$newest/Makefile" ]; then
      need_pkgs+=("linux-headers-$newest")
    fi
  done
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
  # nfs-ganesha is for the tests alone: its packaged service (an NFS server on every address) stays off
  if [[ " ${need_pkgs[*]} " == *" nfs-ganesha "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now nfs-ganesha >/dev/null 2>&1 || true
  fi
fi

# Where npm puts the real Deno binary: the `deno` package's postinstall links
# (or copies) it to node_modules/deno/deno from the platform package
# @deno/<platform>, which keeps it at node_modules/@deno/<platform>/deno.
platform() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo linux-x64-glibc ;;
    Linux-aarch64 | Linux-arm64) echo linux-arm64-glibc ;;
    Darwin-x86_64) echo darwin-x64 ;;
    Darwin-arm64) echo darwin-arm64 ;;
    *) echo "unsupported-$(uname -s)-$(uname -m)" ;;
  esac
}
# An executable that is a binary, not a script such as npm's wrapper.
is_binary() { [ -f "$1" ] && [ -x "$1" ] && [ "$(head -c 2 "$1")" != '#!' ]; }
real_deno() {
  local c
  for c in node_modules/deno/deno "node_modules/@deno/$(platform)/deno"; do
    if is_binary "$c"; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  return 1
}

# Deno (pinned in package.json) and the npm dependencies (pinned in package-lock.json).
stamp=node_modules/.vexfs-lock-stamp
if ! real_deno >/dev/null || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm packages (Deno and libraries) from package-lock.json"
  # `npm install --no-save` installs exactly the versions in the lockfile. Not `npm ci`:
  # npm 11 records only this platform's optional @deno/* binary in the lockfile and
  # then `npm ci` refuses the lockfile as out of sync.
  npm install --no-save --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
if ! is_binary node_modules/deno/deno && [ -f node_modules/deno/install.cjs ]; then
  # npm skipped the deno package's postinstall (--ignore-scripts): run it; it links the binary there.
  node node_modules/deno/install.cjs >/dev/null 2>&1 || true
fi
if ! deno=$(real_deno); then
  say "no Deno binary after 'npm install': neither node_modules/deno/deno nor node_modules/@deno/$(platform)/deno" \
    "exists. Run 'npm install --no-save' again (without --ignore-scripts), or install the Deno version of" \
    "package.json and run it directly ('deno run --allow-all main.ts ...'); node_modules/.bin/deno is npm's Node" \
    "wrapper and is not used (it hides crashes and does not pass SIGTERM on)."
  exit 1
fi
if [ "$deno" != node_modules/deno/deno ]; then
  say "using $deno (node_modules/deno/deno is missing: the deno package's postinstall did not run)"
fi

# The same commands as the tasks of deno.json.
case "$what" in
  demo) exec "$deno" run --allow-all main.ts demo "$@" ;;
  test) exec "$deno" test --allow-all --parallel "$@" ;;
  vexfs) exec "$deno" run --allow-all main.ts "$@" ;;
  bench) exec "$deno" run --allow-all main.ts bench "$@" ;;
  deno) exec "$deno" "$@" ;;
  *) say "unknown action '$what' (use demo, test, bench, vexfs or deno)"; exit 2 ;;
esac
