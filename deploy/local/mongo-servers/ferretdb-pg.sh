# FerretDB v1.24 with its PostgreSQL handler, on a private PostgreSQL 15 cluster kept in DATA_DIR.
# Sourced by deploy/local/install-deps and deploy/local/stack (the interface is described at the
# top of deploy/local/stack): mongo_server_install, mongo_server_exec DATA_DIR PORT.

JT_FERRETDB_PG_VERSION=v1.24.2
JT_FERRETDB_PG_PGBIN=/usr/lib/postgresql/15/bin

_jt_ferretdb_pg_home() {
  printf '%s/ferretdb-pg\n' "${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify}"
}

mongo_server_install() {
  local home
  home=$(_jt_ferretdb_pg_home)
  if [[ ! -x $JT_FERRETDB_PG_PGBIN/initdb ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        postgresql-15 >"${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify}/apt-postgresql.log" 2>&1 || {
        echo "ferretdb-pg: apt-get install postgresql-15 failed" >&2
        return 1
      }
    else
      echo "ferretdb-pg: $JT_FERRETDB_PG_PGBIN/initdb missing: apt-get install postgresql-15" >&2
      return 1
    fi
  fi
  if [[ -x $home/bin/ferretdb && $(cat "$home/.installed" 2>/dev/null) == "$JT_FERRETDB_PG_VERSION" ]]; then
    return 0
  fi
  local go
  go=$(command -v go || true)
  [[ -n $go || ! -x /usr/local/go/bin/go ]] || go=/usr/local/go/bin/go
  [[ -n $go ]] || {
    echo "ferretdb-pg: Go toolchain not found (PATH, /usr/local/go/bin/go); FerretDB needs Go >= 1.22" >&2
    return 1
  }
  [[ ${JOYTIFY_QUIET:-0} == 1 ]] ||
    echo "ferretdb-pg: building FerretDB $JT_FERRETDB_PG_VERSION (about a minute; seconds when ferretdb-sqlite was built)"
  # Built from a copy of the module source, not with `go install ...@v1.24.2`: a binary built
  # that way panics at start, the release module lacking build/version/version.txt.
  # Go's caches are the ones ferretdb-sqlite uses, so the second build is a cache hit.
  mkdir -p "$home/bin" || return 1
  local cache=${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify} rc=0
  (
    set -euo pipefail
    export GOPATH="$cache/go" GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" \
      GOFLAGS=-buildvcs=false CGO_ENABLED=0
    cd "$home"
    mod=$("$go" mod download -json "github.com/FerretDB/FerretDB@$JT_FERRETDB_PG_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -d $mod ]] || { echo "go mod download gave no module directory" >&2; exit 1; }
    rm -rf src
    cp -r "$mod" src
    chmod -R u+w src
    echo "$JT_FERRETDB_PG_VERSION" >src/build/version/version.txt
    cd src
    "$go" build -trimpath -o "$home/bin/ferretdb.tmp" ./cmd/ferretdb
    mv "$home/bin/ferretdb.tmp" "$home/bin/ferretdb"
    "$home/bin/ferretdb" --version | grep -qx "version: $JT_FERRETDB_PG_VERSION"
    cd .. && rm -rf src
  ) >"$home/build.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 30 "$home/build.log" >&2
    echo "ferretdb-pg: building FerretDB failed (exit $rc; log: $home/build.log)" >&2
    return 1
  fi
  echo "$JT_FERRETDB_PG_VERSION" >"$home/.installed"
}

# _jt_ferretdb_pg_as_pg: sets the array JT_FERRETDB_PG_AS to the command prefix that runs a
# PostgreSQL program as a non-root user (postgres refuses root). As root: a user namespace that
# maps the `postgres` account onto root, so the files stay root's and DATA_DIR may be anywhere
# (even under /root); where user namespaces are not allowed, the `postgres` account itself
# (DATA_DIR must then be reachable by it). A prefix, not a wrapper function, so that `cmd &`
# gives the program's own pid (no subshell in between) for the trap to signal.
_jt_ferretdb_pg_as_pg() {
  JT_FERRETDB_PG_AS=()
  [[ $(id -u) == 0 ]] || return 0
  if unshare --user --map-user=postgres --map-group=postgres -- true 2>/dev/null; then
    JT_FERRETDB_PG_AS=(unshare --user --map-user=postgres --map-group=postgres --)
  else
    JT_FERRETDB_PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
}

# FerretDB first (it holds PostgreSQL connections), then a fast shutdown of PostgreSQL.
_jt_ferretdb_pg_stop() {
  if [[ -n ${_JT_FPG_FDB_PID:-} ]]; then
    kill -TERM "$_JT_FPG_FDB_PID" 2>/dev/null || true
    wait "$_JT_FPG_FDB_PID" 2>/dev/null || true
    _JT_FPG_FDB_PID=
  fi
  if [[ -n ${_JT_FPG_PG_PID:-} ]]; then
    kill -INT "$_JT_FPG_PG_PID" 2>/dev/null || true
    wait "$_JT_FPG_PG_PID" 2>/dev/null || true
    _JT_FPG_PG_PID=
  fi
  [[ -z ${_JT_FPG_TMP_SOCK:-} ]] || rm -rf "$_JT_FPG_TMP_SOCK"
}

mongo_server_exec() {
  local data=$1 port=$2 home pgdata sock rc
  [[ -d $data && -n $port ]] || {
    echo "usage: mongo_server_exec DATA_DIR PORT (DATA_DIR must exist)" >&2
    return 2
  }
  data=$(cd "$data" && pwd)
  home=$(_jt_ferretdb_pg_home)
  [[ -x $home/bin/ferretdb ]] || {
    echo "ferretdb-pg: not installed in $home (run mongo_server_install)" >&2
    return 1
  }
  pgdata=$data/pg
  local -a JT_FERRETDB_PG_AS
  _jt_ferretdb_pg_as_pg
  if [[ ${JT_FERRETDB_PG_AS[0]:-} == setpriv ]]; then
    mkdir -p "$pgdata" && chown postgres:postgres "$pgdata" && chmod 700 "$pgdata" || return 1
  fi
  # The socket path must fit sun_path (107 bytes); a deep DATA_DIR gets a short one in /tmp.
  sock=$data/pg-sock _JT_FPG_TMP_SOCK=
  if ((${#sock} > 90)); then
    sock=$(mktemp -d /tmp/jt-pg.XXXXXX) || return 1
    _JT_FPG_TMP_SOCK=$sock
  fi
  mkdir -p "$sock" || return 1
  [[ ${JT_FERRETDB_PG_AS[0]:-} == setpriv ]] && chown postgres:postgres "$sock"

  if [[ ! -f $pgdata/PG_VERSION ]]; then
    "${JT_FERRETDB_PG_AS[@]}" "$JT_FERRETDB_PG_PGBIN/initdb" -D "$pgdata" -U ferretdb \
      --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 || {
      cat "$data/initdb.log" >&2
      return 1
    }
  fi

  # Children share our process group; the traps take them down with us, PostgreSQL last.
  # Globals, not locals: the EXIT trap may run after this function has returned.
  _JT_FPG_PG_PID= _JT_FPG_FDB_PID=
  trap '_jt_ferretdb_pg_stop; trap - EXIT INT TERM; exit 0' INT TERM
  trap '_jt_ferretdb_pg_stop' EXIT

  # No TCP listener (unix socket only); synchronous_commit=off: a crash may lose the last
  # transactions but never corrupts, and bulk writes get much faster.
  "${JT_FERRETDB_PG_AS[@]}" "$JT_FERRETDB_PG_PGBIN/postgres" -D "$pgdata" -c listen_addresses= \
    -c unix_socket_directories="$sock" -c synchronous_commit=off -c shared_buffers=256MB \
    -c max_wal_size=2GB -c logging_collector=off &
  _JT_FPG_PG_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    "$JT_FERRETDB_PG_PGBIN/pg_isready" -q -h "$sock" -U ferretdb -d postgres && break
    kill -0 "$_JT_FPG_PG_PID" 2>/dev/null || {
      echo "ferretdb-pg: postgres exited during startup" >&2
      return 1
    }
    sleep 0.1
  done
  if ! "$JT_FERRETDB_PG_PGBIN/psql" -qAt -h "$sock" -U ferretdb -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" 2>/dev/null | grep -q 1; then
    "$JT_FERRETDB_PG_PGBIN/createdb" -h "$sock" -U ferretdb ferretdb || return 1
  fi

  mkdir -p "$data/ferretdb-state" || return 1
  "$home/bin/ferretdb" --handler=postgresql \
    --postgresql-url="postgres://ferretdb@/ferretdb?host=$sock" \
    --listen-addr="${JOYTIFY_BIND_HOST:-127.0.0.1}:$port" --state-dir="$data/ferretdb-state" \
    --telemetry=disable --debug-addr=- --log-level=warn &
  _JT_FPG_FDB_PID=$!
  # `wait` (unlike a foreground child) is interrupted by the signals trapped above.
  rc=0
  wait "$_JT_FPG_FDB_PID" || rc=$?
  _JT_FPG_FDB_PID=
  return $rc
}
