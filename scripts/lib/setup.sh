# `setup`: installs exactly the Debian packages from packages.sh that are missing. Sourced.
# shellcheck shell=bash

# Prints the packages of PEPEUNIT_PACKAGES that dpkg does not report as installed, one per line.
missing_packages() {
  local installed
  # dpkg-query exits non-zero when it has never heard of a package; its output still lists the
  # ones it knows, which is all we need.
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PEPEUNIT_PACKAGES[@]}" \
    2>/dev/null | awk '$2 == "installed" { print $1 }') || true
  local pkg
  for pkg in "${PEPEUNIT_PACKAGES[@]}"; do
    grep -qxF "$pkg" <<<"$installed" || printf '%s\n' "$pkg"
  done
}

cmd_setup() {
  command -v dpkg-query >/dev/null || die "setup needs a Debian-based system (dpkg-query not found)"
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    say "all packages present"
    return 0
  fi
  say "installing ${#missing[@]} missing package(s): ${missing[*]}"
  local -a sudo=()
  if ! is_root; then
    command -v sudo >/dev/null || die "setup must run as root to install: ${missing[*]}"
    sudo=(sudo -n)
  fi
  # No stdin, no prompts, keep existing config files: safe under CI=true and in containers.
  local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  "${sudo[@]}" "${apt[@]}" update </dev/null || die "apt-get update failed"
  "${sudo[@]}" "${apt[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null ||
    die "apt-get install failed"
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"
  say "all packages present"
}
