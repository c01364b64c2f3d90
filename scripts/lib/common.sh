# Shared helpers for scripts/pepeunit: messages, polling with a deadline, ports and pid files.
# shellcheck shell=bash
# Sourced, never executed. Expects ROOT to be set by the caller.

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Calls "$@" until it succeeds or `timeout` seconds pass. A dead `pid` (when given, non-empty)
# ends the wait early: there is no point waiting for a process that already exited.
# Usage: poll_until <timeout_s> <pid|""> <command...>; returns 0 ready, 1 timeout, 2 died.
poll_until() {
  local timeout=$1 pid=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n $pid ]] && ! pid_alive "$pid"; then return 2; fi
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.1
  done
}

# True if the process exists and is not a zombie (containers without an init may never reap).
pid_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  # Field 3 (after the parenthesised command name) is the state.
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# The process's argv joined by spaces ("" if gone).
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# True if `pid` is alive and its command line contains every one of the given words, so a pid
# file left behind after a reboot never makes us signal an unrelated process that reused the pid.
pid_is() {
  local pid=$1 cmd word
  shift
  pid_alive "$pid" || return 1
  cmd=$(pid_cmdline "$pid")
  for word in "$@"; do
    [[ $cmd == *"$word"* ]] || return 1
  done
}

# True if something listens on TCP `port` on any local address (IPv4 or IPv6). Reads
# /proc/net/tcp{,6} directly: no connection is made and no extra package is needed.
port_listening() {
  local hex
  hex=$(printf '%04X' "$1")
  # Columns: sl local_address rem_address st ...; st 0A is LISTEN; the port ends local_address.
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# True if a TCP connection to 127.0.0.1:`port` is accepted.
port_accepts() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Validates that the named variable holds a TCP port number.
check_port_var() {
  local name=$1 value=$2
  if [[ ! $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    die "$name must be a TCP port number (1-65535), got '$value'"
  fi
}

# Sets KEY=VALUE in an env file: replaces the first KEY= line or appends one. Keeps the mode.
env_file_set() {
  local file=$1 key=$2 value=$3 tmp
  tmp=$(mktemp "$file.XXXXXX")
  awk -v k="$key" -v v="$value" '
    BEGIN { done = 0 }
    index($0, k "=") == 1 { if (!done) { print k "=" v; done = 1 }; next }
    { print }
    END { if (!done) print k "=" v }' "$file" >"$tmp"
  chmod --reference="$file" "$tmp"
  mv -f "$tmp" "$file"
}

# Prints the value of KEY in an env file ("" if absent).
env_file_get() {
  awk -v k="$2" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' \
    "$1" 2>/dev/null || true
}
