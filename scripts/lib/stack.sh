# `up`, `down`, `status`, `logs`: the local stack (PostgreSQL, Redis, Mosquitto, backend) on
# shellcheck shell=bash
# loopback, with all state in the private data dir. Sourced by scripts/pepeunit.
#
# Every process we start gets a pid file in $DATA_DIR/run and a working directory of its own;
# a pid counts as ours only if its command line names the program AND its cwd is that directory,
# so `down` can never signal an unrelated process that happens to reuse an old pid.

COMPONENTS=(postgres redis mosquitto backend)

stack_init() {
  HTTP_PORT=${PEPEUNIT_HTTP_PORT:-5000}
  PG_PORT=${PEPEUNIT_PG_PORT:-5433}
  REDIS_PORT=${PEPEUNIT_REDIS_PORT:-6380}
  MQTT_PORT=${PEPEUNIT_MQTT_PORT:-1883}
  MQTTS_PORT=${PEPEUNIT_MQTTS_PORT:-8883}
  # The domain is also what units put in their REST links, so it carries the HTTP port.
  DOMAIN=${PEPEUNIT_DOMAIN:-127.0.0.1:$HTTP_PORT}
  START_TIMEOUT=${PEPEUNIT_START_TIMEOUT:-60}
  STOP_TIMEOUT=${PEPEUNIT_STOP_TIMEOUT:-30}
  check_port_var PEPEUNIT_HTTP_PORT "$HTTP_PORT"
  check_port_var PEPEUNIT_PG_PORT "$PG_PORT"
  check_port_var PEPEUNIT_REDIS_PORT "$REDIS_PORT"
  check_port_var PEPEUNIT_MQTT_PORT "$MQTT_PORT"
  check_port_var PEPEUNIT_MQTTS_PORT "$MQTTS_PORT"
  local dup
  dup=$(printf '%s\n' "$HTTP_PORT" "$PG_PORT" "$REDIS_PORT" "$MQTT_PORT" "$MQTTS_PORT" |
    sort | uniq -d | head -n1)
  [[ -z $dup ]] || die "port $dup is assigned to two PEPEUNIT_*_PORT variables"
  [[ $DOMAIN =~ ^[A-Za-z0-9.:_-]+$ ]] || die "PEPEUNIT_DOMAIN must be a host or host:port"

  RUN_DIR=$DATA_DIR/run
  LOG_DIR=$DATA_DIR/logs
  TLS_DIR=$DATA_DIR/tls
  ENV_FILE=$DATA_DIR/backend.env
  PGPASS_FILE=$DATA_DIR/pgpass
  MOSQUITTO_DIR=$DATA_DIR/mosquitto
  MOSQUITTO_CONF=$MOSQUITTO_DIR/mosquitto.conf
  BACKEND_BIN=$BUILD_DIR/backend/pepeunit-backend
  PLUGIN_SO=$BUILD_DIR/authplugin/pepeunit_auth.so
  PG_DIR=$DATA_DIR/pg
  # The cluster may live outside the data dir (see ensure_pg_dir); the link says where.
  if [[ -L $PG_DIR ]]; then PG_DIR=$(readlink -f "$PG_DIR"); fi
}

# --- per-component facts ---------------------------------------------------------------------

component_port() {
  case $1 in
    postgres) echo "$PG_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    mosquitto) echo "$MQTT_PORT,$MQTTS_PORT" ;;
    backend) echo "$HTTP_PORT" ;;
  esac
}

component_port_vars() {
  case $1 in
    postgres) echo "PEPEUNIT_PG_PORT" ;;
    redis) echo "PEPEUNIT_REDIS_PORT" ;;
    mosquitto) echo "PEPEUNIT_MQTT_PORT PEPEUNIT_MQTTS_PORT" ;;
    backend) echo "PEPEUNIT_HTTP_PORT" ;;
  esac
}

# The working directory each process runs in (its identity, with the program name).
component_dir() {
  case $1 in
    postgres) echo "$PG_DIR" ;;
    redis) echo "$DATA_DIR/redis" ;;
    mosquitto) echo "$DATA_DIR/mosquitto" ;;
    backend) echo "$DATA_DIR" ;;
  esac
}

component_program() {
  case $1 in
    postgres) echo "postgres" ;;
    redis) echo "redis-server" ;;
    mosquitto) echo "mosquitto" ;;
    backend) echo "pepeunit-backend" ;;
  esac
}

pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$LOG_DIR/$1.log"; }

# Prints the pid of the component if it is running and ours; fails otherwise.
component_pid() {
  local file pid cwd
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  pid_is "$pid" "$(component_program "$1")" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$(component_dir "$1")" ]] || return 1
  echo "$pid"
}

component_running() { component_pid "$1" >/dev/null; }

# --- helpers ---------------------------------------------------------------------------------

# Runs a command as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
  if is_root; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

pg_bin() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  [[ -x $dir/postgres ]] || die "PostgreSQL server binaries not found; run: scripts/pepeunit setup"
  echo "$dir"
}

# Starts a program detached in its own session (so Ctrl-C or a closed terminal does not reach
# it), in directory `dir`, appending stdout/stderr to the component's log; records its pid.
# `setsid` and `setpriv` exec in place, so $! is the program's own pid.
spawn() {
  local name=$1 dir=$2
  shift 2
  # 9>&-: the child must not inherit the up/down lock (see lock_stack).
  (cd "$dir" && exec setsid "$@" </dev/null >>"$(log_file "$name")" 2>&1 9>&-) &
  SPAWNED_PID=$!
  echo "$SPAWNED_PID" >"$(pid_file "$name")"
}

# Waits for readiness; on failure shows the end of the log and exits with one error line.
wait_ready() {
  local name=$1 pid=$2 rc=0
  shift 2
  poll_until "$START_TIMEOUT" "$pid" "$@" || rc=$?
  ((rc == 0)) && return 0
  local log
  log=$(log_file "$name")
  {
    say "--- last lines of $log ---"
    tail -n 20 "$log" 2>/dev/null || true
    say "---"
  } >&2
  if ((rc == 2)); then
    rm -f "$(pid_file "$name")"
    die "$name exited during start-up (log: $log)"
  fi
  die "$name not ready within ${START_TIMEOUT}s (log: $log; stop with: scripts/pepeunit down)"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
mosquitto_ready() { port_accepts "$MQTT_PORT" && port_accepts "$MQTTS_PORT"; }
backend_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP_PORT/pepeunit"; }
pid_gone() { ! pid_alive "$1"; }

# Serialises up/down so two invocations never race on the same data dir.
lock_stack() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w 120 9 || die "another scripts/pepeunit up/down holds $RUN_DIR/.lock"
}

# --- first-run state -------------------------------------------------------------------------

ensure_dirs() {
  if [[ ! -d $DATA_DIR ]]; then
    mkdir -p "$DATA_DIR"
    # Root: others may traverse (never list) it, so the postgres user reaches its cluster.
    if is_root; then chmod 0711 "$DATA_DIR"; else chmod 0700 "$DATA_DIR"; fi
  fi
  local d
  for d in run logs tls redis mosquitto repos; do
    [[ -d $DATA_DIR/$d ]] || install -d -m 0700 "$DATA_DIR/$d"
  done
}

ensure_tls() {
  local ca=$TLS_DIR/ca.crt cert=$TLS_DIR/server.crt key=$TLS_DIR/server.key
  [[ -f $ca && -f $cert && -f $key ]] && return 0
  say "creating a local CA and a server certificate in $TLS_DIR"
  local san="DNS:localhost,IP:127.0.0.1" host=${DOMAIN%:*}
  if [[ $host != localhost && $host != 127.0.0.1 ]]; then
    if [[ $host =~ ^[0-9.]+$ ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
  fi
  (
    umask 077
    cd "$TLS_DIR"
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=Pepeunit local CA" -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
      -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=$san" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
      >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 15)" -days 825 -sha256 -extfile server.ext \
      -out server.crt 2>/dev/null
    rm -f server.csr server.ext
    chmod 0644 ca.crt server.crt
  ) || die "could not create TLS files in $TLS_DIR"
}

# Puts the cluster directory where the postgres user can reach it. As root the data dir may sit
# under a home that postgres cannot traverse (Debian's /root is 0700); then the cluster lives in
# /var/lib/pepeunit/pg-<hash of the data dir> and $DATA_DIR/pg links to it.
ensure_pg_dir() {
  [[ -e $DATA_DIR/pg ]] && return 0
  if ! is_root; then
    install -d -m 0700 "$DATA_DIR/pg"
    PG_DIR=$DATA_DIR/pg
    return 0
  fi
  install -d -m 0700 -o postgres -g postgres "$DATA_DIR/pg"
  if as_pg test -w "$DATA_DIR/pg"; then
    PG_DIR=$DATA_DIR/pg
    return 0
  fi
  rmdir "$DATA_DIR/pg"
  local alt
  alt=/var/lib/pepeunit/pg-$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-12)
  install -d -m 0755 /var/lib/pepeunit
  install -d -m 0700 -o postgres -g postgres "$alt"
  ln -s "$alt" "$DATA_DIR/pg"
  PG_DIR=$alt
  say "note: user postgres cannot reach $DATA_DIR; the cluster lives in $alt"
}

ensure_pg_cluster() {
  ensure_pg_dir
  [[ -f $PG_DIR/PG_VERSION ]] && return 0
  say "initialising a PostgreSQL cluster in $PG_DIR"
  local password pwfile
  password=$(openssl rand -hex 24)
  pwfile=$(mktemp)
  printf '%s\n' "$password" >"$pwfile"
  if is_root; then chown postgres "$pwfile"; fi
  # cd /: initdb must not try to stay in a directory that postgres cannot read.
  if ! (cd / && as_pg "$PG_BIN/initdb" -D "$PG_DIR" -U pepeunit --pwfile="$pwfile" \
    --auth=scram-sha-256 --no-locale -E UTF8) >>"$(log_file postgres)" 2>&1; then
    rm -f "$pwfile"
    die "initdb failed (log: $(log_file postgres))"
  fi
  rm -f "$pwfile"
  # TCP on loopback only, no unix socket: nothing shared with a system cluster.
  printf '%s\n' "" "# scripts/pepeunit: loopback TCP only" "listen_addresses = '127.0.0.1'" \
    "unix_socket_directories = ''" >>"$PG_DIR/postgresql.conf"
  (
    umask 077
    printf '127.0.0.1:*:*:pepeunit:%s\n' "$password" >"$PGPASS_FILE"
  )
}

pg_password() {
  local password
  password=$(awk -F: '$4 == "pepeunit" { print $5; exit }' "$PGPASS_FILE" 2>/dev/null) || true
  [[ -n $password ]] || die "no password for the pepeunit role in $PGPASS_FILE"
  echo "$password"
}

# backend.env: secrets are generated once (by the backend itself); the connection keys are
# rewritten from the PEPEUNIT_* variables on every `up`; any other line is left alone.
ensure_env_file() {
  if [[ ! -f $ENV_FILE ]]; then
    (
      umask 077
      printf '%s\n' "# Backend configuration written by scripts/pepeunit up (mode 0600)." \
        "# Secrets are generated once. Connection keys are rewritten from PEPEUNIT_* on every up;" \
        "# add your own BACKEND_* lines freely." >"$ENV_FILE"
    )
  fi
  chmod 0600 "$ENV_FILE"
  local key missing=0
  for key in BACKEND_SECRET_KEY BACKEND_ENCRYPT_KEY BACKEND_STATIC_SALT BACKEND_PLUGIN_TOKEN; do
    [[ -n $(env_file_get "$ENV_FILE" "$key") ]] || missing=1
  done
  if ((missing)); then
    say "generating backend secrets into $ENV_FILE"
    local secrets value
    secrets=$("$BACKEND_BIN" gen-secrets) || die "$BACKEND_BIN gen-secrets failed"
    for key in BACKEND_SECRET_KEY BACKEND_ENCRYPT_KEY BACKEND_STATIC_SALT BACKEND_PLUGIN_TOKEN; do
      # An existing secret is kept: rotating BACKEND_SECRET_KEY would invalidate every token.
      [[ -n $(env_file_get "$ENV_FILE" "$key") ]] && continue
      value=$(awk -v k="$key" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' \
        <<<"$secrets")
      [[ -n $value ]] || die "gen-secrets did not print $key"
      env_file_set "$ENV_FILE" "$key" "$value"
    done
  fi
  env_file_set "$ENV_FILE" BACKEND_DOMAIN "$DOMAIN"
  env_file_set "$ENV_FILE" BACKEND_SECURE false
  env_file_set "$ENV_FILE" BACKEND_HTTP_HOST 127.0.0.1
  env_file_set "$ENV_FILE" BACKEND_HTTP_PORT "$HTTP_PORT"
  local password
  password=$(pg_password)
  env_file_set "$ENV_FILE" DATABASE_URL \
    "postgresql://pepeunit:$password@127.0.0.1:$PG_PORT/pepeunit"
  env_file_set "$ENV_FILE" REDIS_URL "redis://127.0.0.1:$REDIS_PORT/0"
  env_file_set "$ENV_FILE" MQTT_HOST 127.0.0.1
  env_file_set "$ENV_FILE" MQTT_PORT "$MQTT_PORT"
  env_file_set "$ENV_FILE" BACKEND_SAVE_REPO_PATH "$DATA_DIR/repos"
  env_file_set "$ENV_FILE" BACKEND_ALLOW_LOCAL_REPOS true
  env_file_set "$ENV_FILE" BACKEND_MIGRATIONS_DIR "$ROOT/schemas/sql"
}

# Regenerated on every `up`, so port changes and a newly built plugin take effect. The plugin
# reads the JWT key and its bearer token from files next to the config (mode 0600, never in the
# config itself), copied from backend.env.
write_mosquitto_conf() {
  (
    umask 077
    env_file_get "$ENV_FILE" BACKEND_SECRET_KEY >"$MOSQUITTO_DIR/jwt.key"
    env_file_get "$ENV_FILE" BACKEND_PLUGIN_TOKEN >"$MOSQUITTO_DIR/plugin.token"
  )
  {
    say "# Generated by scripts/pepeunit up; edits are overwritten."
    say "per_listener_settings false"
    say "persistence false"
    say "log_dest file $(log_file mosquitto)"
    say "log_type error"
    say "log_type warning"
    say "log_type notice"
    say "log_type information"
    say "connection_messages true"
    # The backend takes every unit's values as QoS 0. Mosquitto 2.0 drops a QoS 0 message for
    # a subscriber that already has max_queued_messages (default 1000) packets waiting once its
    # socket buffers are full: a 2 s stall of the backend at 55k msg/s lost 6,000 of 33,000
    # stored changes (bench_ingest, backend pause run). 100000 rides out ~2 s at that rate and
    # still bounds what one stalled subscriber can hold (100k small packets, tens of MB).
    say "max_queued_messages 100000"
    if is_root; then say "user root"; fi
    say ""
    say "listener $MQTT_PORT 127.0.0.1"
    say ""
    say "listener $MQTTS_PORT 127.0.0.1"
    say "cafile $TLS_DIR/ca.crt"
    say "certfile $TLS_DIR/server.crt"
    say "keyfile $TLS_DIR/server.key"
    say ""
    # Every CONNECT, SUBSCRIBE, PUBLISH and delivery goes through our plugin (DESIGN §4): unit
    # and backend JWTs as usernames, nobody anonymous. `anonymous` is a debugging escape hatch.
    case ${PEPEUNIT_MQTT_AUTH:-plugin} in
      plugin)
        [[ -f $PLUGIN_SO ]] || die "auth plugin not built ($PLUGIN_SO); run: scripts/pepeunit build"
        # Option names follow the auth plugin design (auth_plugin_anchors.md §6.11).
        say "allow_anonymous false"
        say "plugin $PLUGIN_SO"
        say "plugin_opt_jwt_key_file $MOSQUITTO_DIR/jwt.key"
        say "plugin_opt_backend_token_file $MOSQUITTO_DIR/plugin.token"
        say "plugin_opt_domain $DOMAIN"
        say "plugin_opt_backend_url http://127.0.0.1:$HTTP_PORT"
        say "plugin_opt_redis_url redis://127.0.0.1:$REDIS_PORT/0"
        ;;
      anonymous)
        warn "PEPEUNIT_MQTT_AUTH=anonymous: the broker accepts everyone on loopback"
        say "allow_anonymous true"
        ;;
      *) die "PEPEUNIT_MQTT_AUTH must be plugin or anonymous" ;;
    esac
  } >"$MOSQUITTO_CONF"
  chmod 0600 "$MOSQUITTO_CONF"
}

ensure_database() {
  local exists
  exists=$(PGPASSFILE=$PGPASS_FILE "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U pepeunit \
    -d postgres -tAXc "SELECT 1 FROM pg_database WHERE datname = 'pepeunit'") ||
    die "cannot query the local PostgreSQL on port $PG_PORT"
  [[ $exists == 1 ]] && return 0
  PGPASSFILE=$PGPASS_FILE "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U pepeunit pepeunit ||
    die "createdb pepeunit failed"
  say "created database pepeunit"
}

# --- starting ----------------------------------------------------------------------------------

start_postgres() {
  local -a argv=("$PG_BIN/postgres" -D "$PG_DIR" -p "$PG_PORT")
  if is_root; then
    argv=(setpriv --reuid=postgres --regid=postgres --init-groups -- "${argv[@]}")
  fi
  spawn postgres "$PG_DIR" "${argv[@]}"
  wait_ready postgres "$SPAWNED_PID" pg_ready
}

start_redis() {
  spawn redis "$DATA_DIR/redis" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$DATA_DIR/redis" --daemonize no --protected-mode yes --logfile ""
  wait_ready redis "$SPAWNED_PID" redis_ready
}

start_mosquitto() {
  spawn mosquitto "$DATA_DIR/mosquitto" mosquitto -c "$MOSQUITTO_CONF"
  wait_ready mosquitto "$SPAWNED_PID" mosquitto_ready
}

start_backend() {
  spawn backend "$DATA_DIR" "$BACKEND_BIN" serve --env-file "$ENV_FILE"
  wait_ready backend "$SPAWNED_PID" backend_ready
}

# Fails with one line if a port we need is held by something that is not ours.
check_ports_free() {
  local c ports port vars var i
  for c in "${COMPONENTS[@]}"; do
    component_running "$c" && continue
    IFS=, read -ra ports <<<"$(component_port "$c")"
    read -ra vars <<<"$(component_port_vars "$c")"
    for i in "${!ports[@]}"; do
      port=${ports[$i]}
      var=${vars[$i]}
      if port_listening "$port"; then die "port $port ($var) is already in use"; fi
    done
  done
}

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do component_running "$c" || return 1; done
}

# Builds the two artefacts `up` runs: the backend and (once its sources exist) the plugin.
ensure_built() {
  [[ -f $BUILD_DIR/CMakeCache.txt ]] || configure
  local -a targets=(pepeunit-backend)
  if compgen -G "$ROOT/authplugin/*.cpp" >/dev/null; then targets+=(pepeunit_auth); fi
  build_targets "${targets[@]}"
}

cmd_up() {
  stack_init
  ensure_dirs
  lock_stack
  if all_running; then
    say "already running"
    print_status
    print_urls
    return 0
  fi
  check_ports_free
  cmd_setup
  ensure_built
  PG_BIN=$(pg_bin)
  ensure_tls
  ensure_pg_cluster
  ensure_env_file
  write_mosquitto_conf
  local c
  for c in "${COMPONENTS[@]}"; do
    if component_running "$c"; then
      say "$c: already running"
    else
      rm -f "$(pid_file "$c")"
      say "$c: starting"
      "start_$c"
    fi
    if [[ $c == postgres ]]; then ensure_database; fi
  done
  print_status
  print_urls
}

print_urls() {
  local base="http://127.0.0.1:$HTTP_PORT/pepeunit"
  cat <<EOF

Pepeunit is up:
  REST    $base   (API under /pepeunit/api/v1)
  health  $base/health
  MQTT    mqtt://127.0.0.1:$MQTT_PORT
  MQTTS   mqtts://127.0.0.1:$MQTTS_PORT   (CA: $TLS_DIR/ca.crt)
  psql    PGPASSFILE=$PGPASS_FILE psql -h 127.0.0.1 -p $PG_PORT -U pepeunit pepeunit
Create the first user (the first user becomes Admin):
  curl -X POST $base/api/v1/users -H 'content-type: application/json' \\
       -d '{"login":"admin","password":"<8 to 100 chars>"}'
Stop everything with: scripts/pepeunit down
EOF
}

# --- stopping ------------------------------------------------------------------------------------

stop_component() {
  local name=$1 signal=$2 file pid
  file=$(pid_file "$name")
  if [[ ! -f $file ]]; then
    say "$name: not running"
    return 0
  fi
  if ! pid=$(component_pid "$name"); then
    rm -f "$file"
    say "$name: not running (removed stale pid file)"
    return 0
  fi
  kill "-$signal" "$pid" 2>/dev/null || true
  if ! poll_until "$STOP_TIMEOUT" "" pid_gone "$pid"; then
    warn "$name (pid $pid) ignored SIG$signal for ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    poll_until 10 "" pid_gone "$pid" || die "$name (pid $pid) does not exit"
  fi
  rm -f "$file"
  say "$name: stopped (pid $pid)"
}

cmd_down() {
  stack_init
  if [[ ! -d $RUN_DIR ]]; then
    say "nothing to stop ($DATA_DIR has no run directory)"
    return 0
  fi
  lock_stack
  stop_component backend TERM
  stop_component mosquitto TERM
  stop_component redis TERM
  # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
  stop_component postgres INT
}

# --- status and logs ------------------------------------------------------------------------

print_status() {
  local c pid
  printf '%-10s %-8s %-8s %s\n' component state pid port
  for c in "${COMPONENTS[@]}"; do
    if pid=$(component_pid "$c"); then
      printf '%-10s %-8s %-8s %s\n' "$c" running "$pid" "$(component_port "$c")"
    else
      printf '%-10s %-8s %-8s %s\n' "$c" stopped - "$(component_port "$c")"
    fi
  done
  if component_running backend; then
    local health
    health=$(curl -sS --max-time 5 "http://127.0.0.1:$HTTP_PORT/pepeunit/health" 2>&1) || true
    say "health: $health"
  fi
}

cmd_status() {
  stack_init
  print_status
}

cmd_logs() {
  stack_init
  local -a files=() tail_args=(-n 50)
  local arg
  for arg in "$@"; do
    case $arg in
      -f | --follow) tail_args=(-n 50 -F) ;;
      postgres | redis | mosquitto | backend) files+=("$(log_file "$arg")") ;;
      *) die "unknown log '$arg' (one of: ${COMPONENTS[*]}; -f to follow)" ;;
    esac
  done
  if ((${#files[@]} == 0)); then
    local c
    for c in "${COMPONENTS[@]}"; do
      [[ -f $(log_file "$c") ]] && files+=("$(log_file "$c")")
    done
  fi
  ((${#files[@]} > 0)) || die "no log files yet in $LOG_DIR (run: scripts/pepeunit up)"
  exec tail "${tail_args[@]}" "${files[@]}"
}
