#!/usr/bin/env bash
# Install helpers shared by scripts/example.sh and scripts/test.sh (they source this file).
# Run directly, it installs everything the test suite needs without running it:
#   scripts/setup.sh
# Debian packages are installed only when missing, with one `apt-get update` before the first
# install; npm packages come from package-lock.json via `npm ci` when node_modules is absent
# or does not match the lock file.

# Packages the test suite needs (servers it compares against, clients, tools).
WALNUT_TEST_PACKAGES=(redis-server memcached nutcracker redis-tools libmemcached-tools
  python3-pymemcache dnsmasq-base openssl)

walnut_log() { printf '[%s] %s\n' "${WALNUT_SCRIPT:-setup}" "$*" >&2; }
walnut_die() {
  walnut_log "error: $*"
  exit 1
}

# Runs a command as root (directly, or through sudo when there is one).
walnut_as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    walnut_die "need root to run: $* (run as root or install sudo)"
  fi
}

# Absolute path of an executable, also looking in the sbin dirs (nutcracker is in /usr/sbin,
# which is not on a normal user's PATH). Prints nothing and fails when there is none.
walnut_find_bin() {
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  for dir in /usr/local/sbin /usr/sbin /sbin; do
    if [[ -x "$dir/$name" ]]; then
      printf '%s\n' "$dir/$name"
      return 0
    fi
  done
  return 1
}

walnut_pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

WALNUT_APT_UPDATED=${WALNUT_APT_UPDATED:-0}

# apt-get install the given packages (the caller decided they are missing).
walnut_apt_install() {
  (($# > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 ||
    walnut_die "apt-get not found; install these packages by hand: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [[ ${WALNUT_APT_UPDATED} -eq 0 ]]; then
    walnut_log "apt-get update"
    walnut_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      walnut_die "apt-get update failed"
    WALNUT_APT_UPDATED=1
  fi
  walnut_log "apt-get install $*"
  walnut_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
    walnut_die "apt-get install failed for: $*"
}

# Installs each named Debian package that dpkg does not report as installed.
walnut_ensure_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    walnut_pkg_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    walnut_log "Debian packages present: $*"
    return 0
  fi
  walnut_apt_install "${missing[@]}"
}

# Arguments are BINARY:PACKAGE pairs; installs PACKAGE when BINARY cannot be found.
walnut_ensure_binaries() {
  local pair missing=()
  for pair in "$@"; do
    walnut_find_bin "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) || walnut_apt_install "${missing[@]}"
  for pair in "$@"; do
    walnut_find_bin "${pair%%:*}" >/dev/null ||
      walnut_die "${pair%%:*} still not found after installing ${pair#*:}"
  done
}

# Node >= 20 and npm must be there already (the README assumes a machine with Node 20).
walnut_require_node() {
  command -v node >/dev/null 2>&1 || walnut_die "node not found; install Node.js 20 or newer"
  command -v npm >/dev/null 2>&1 || walnut_die "npm not found; install Node.js 20 with npm"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= 20)) || walnut_die "Node.js >= 20 required, found $(node -v)"
}

# True when node_modules holds exactly the versions package-lock.json asks for. npm ci writes
# node_modules/.package-lock.json (its record of what it installed); compare the two.
walnut_node_modules_fresh() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const fs = require("node:fs")
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {}
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {}
    for (const [path, meta] of Object.entries(want)) {
      if (path === "") continue
      // optional packages for other platforms are never installed
      if (meta.optional && !(path in have)) continue
      if (have[path]?.version !== meta.version || !fs.existsSync(path)) process.exit(1)
    }
    for (const path of Object.keys(have)) if (!(path in want)) process.exit(1)
  ' 2>/dev/null
}

walnut_ensure_node_modules() {
  if walnut_node_modules_fresh; then
    walnut_log "node_modules matches package-lock.json"
    return 0
  fi
  walnut_log "npm ci (node_modules missing or out of date)"
  if ! npm ci --no-audit --no-fund; then
    # npm 10/11 sometimes writes a lock without the other platforms' optional packages (Biome's
    # binaries; npm/cli#4828, #8320), and then refuses `npm ci`. `npm install` installs the
    # same pinned versions from that lock and adds what is missing.
    walnut_log "npm ci refused the lock file; npm install instead"
    npm install --no-audit --no-fund || walnut_die "npm install failed"
  fi
}

# Run directly: install everything scripts/test.sh needs.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  WALNUT_SCRIPT=setup
  walnut_require_node
  walnut_ensure_packages "${WALNUT_TEST_PACKAGES[@]}"
  walnut_ensure_node_modules
  walnut_log "done"
fi
