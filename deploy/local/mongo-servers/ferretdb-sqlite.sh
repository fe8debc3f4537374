# ferretdb-sqlite: MongoDB-compatible server candidate for deploy/local/stack: FerretDB v1.24.2
# with its SQLite handler (one .sqlite file per database in the data directory, pure Go, no
# other server). Sourced by install-deps and stack; the interface is described at the top of
# deploy/local/stack. Known limits (DESIGN.md): only {_id: value} filters are pushed down to SQLite.
#
# Built from the module source, not with `go install ...@v1.24.2`: a binary built that way
# panics at start ("Invalid build/version/version.txt file content") because the release module
# has no build/version/version.txt. So: download the module, copy it, write version.txt, build.

FERRETDB_SQLITE_VERSION=v1.24.2
FERRETDB_SQLITE_DIR="$JOYTIFY_CACHE_DIR/ferretdb-sqlite"
FERRETDB_SQLITE_BIN="$FERRETDB_SQLITE_DIR/bin/ferretdb"

mongo_server_install() {
  local marker="$FERRETDB_SQLITE_DIR/.installed"
  if [[ -x $FERRETDB_SQLITE_BIN && -f $marker && "$(cat "$marker")" == "$FERRETDB_SQLITE_VERSION" ]]; then
    return 0
  fi
  local go
  go=$(command -v go || true)
  [[ -n $go ]] || { [[ -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go; }
  if [[ -z $go ]]; then
    echo "ferretdb-sqlite: Go toolchain not found (looked on PATH and /usr/local/go/bin/go); FerretDB $FERRETDB_SQLITE_VERSION needs Go >= 1.22" >&2
    return 1
  fi
  [[ ${JOYTIFY_QUIET:-0} == 1 ]] || echo "ferretdb-sqlite: building FerretDB $FERRETDB_SQLITE_VERSION with $("$go" version | cut -d' ' -f3) (about a minute or two)"

  # Go's module and build caches under the joytify cache: shared by every Go-built candidate,
  # removed with the cache, never in the source tree.
  local log="$FERRETDB_SQLITE_DIR/build.log"
  mkdir -p "$FERRETDB_SQLITE_DIR/bin"
  local rc=0
  (
    set -euo pipefail
    export GOPATH="$JOYTIFY_CACHE_DIR/go" GOMODCACHE="$JOYTIFY_CACHE_DIR/go/mod" \
      GOCACHE="$JOYTIFY_CACHE_DIR/go/build" GOFLAGS=-buildvcs=false CGO_ENABLED=0
    cd "$FERRETDB_SQLITE_DIR"
    mod_dir=$("$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_SQLITE_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -d $mod_dir ]] || { echo "go mod download gave no module directory" >&2; exit 1; }
    rm -rf src
    cp -r "$mod_dir" src
    chmod -R u+w src
    echo "$FERRETDB_SQLITE_VERSION" >src/build/version/version.txt
    cd src
    "$go" build -trimpath -o "$FERRETDB_SQLITE_BIN.tmp" ./cmd/ferretdb
    mv "$FERRETDB_SQLITE_BIN.tmp" "$FERRETDB_SQLITE_BIN"
    "$FERRETDB_SQLITE_BIN" --version | grep -qx "version: $FERRETDB_SQLITE_VERSION"
    cd .. && rm -rf src
  ) >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 30 "$log" >&2
    echo "ferretdb-sqlite: building FerretDB $FERRETDB_SQLITE_VERSION failed (exit $rc; full log: $log)" >&2
    return 1
  fi
  echo "$FERRETDB_SQLITE_VERSION" >"$marker"
}

mongo_server_exec() {
  local data_dir=$1 port=$2
  [[ -x $FERRETDB_SQLITE_BIN ]] || { echo "ferretdb-sqlite: $FERRETDB_SQLITE_BIN missing: run deploy/local/install-deps" >&2; return 1; }
  # --debug-addr=- : no debug HTTP listener (default 127.0.0.1:8088 would clash between stacks).
  # --state-dir: its state.json goes with the data, not into the current directory.
  exec "$FERRETDB_SQLITE_BIN" \
    --handler=sqlite \
    --sqlite-url="file:$data_dir/" \
    --state-dir="$data_dir" \
    --listen-addr="${JOYTIFY_BIND_HOST:-127.0.0.1}:$port" \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=info
}
