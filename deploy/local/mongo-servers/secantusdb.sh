# secantusdb: MongoDB-compatible server candidate: SecantusDB's Python server (`secantusd-py`,
# PyPI SecantusDB, a pre-release) on WiredTiger storage, with a real query planner and indexes.
# Sourced by install-deps and stack; the interface is described at the top of deploy/local/stack.
# Pinned: PyPI serves only pre-releases (pip needs the exact version or --pre); 0.7.0b3 is the
# newest one served (the yanked 0.6.0b* are skipped by pip; there is no 0.5.3b* on PyPI).

SECANTUSDB_VERSION=0.7.0b3
SECANTUSDB_DIR="${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify}/secantusdb"

mongo_server_install() {
  local venv="$SECANTUSDB_DIR/venv" marker="$SECANTUSDB_DIR/.installed"
  if [[ -x $venv/bin/secantusd-py && -f $marker && "$(cat "$marker")" == "$SECANTUSDB_VERSION" ]]; then
    return 0
  fi
  # Debian's python3 when there is one: its wheel tag (cp311) matches the wheels PyPI serves.
  local py=python3
  [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
  [[ ${JOYTIFY_QUIET:-0} == 1 ]] || echo "secantusdb: installing SecantusDB $SECANTUSDB_VERSION into $venv"
  mkdir -p "$SECANTUSDB_DIR" || return 1
  local log="$SECANTUSDB_DIR/install.log" rc=0
  (
    set -euo pipefail
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --disable-pip-version-check --no-input "SecantusDB==$SECANTUSDB_VERSION"
    "$venv/bin/secantusd-py" --help >/dev/null
  ) >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 20 "$log" >&2
    echo "secantusdb: installing SecantusDB $SECANTUSDB_VERSION failed (exit $rc; log: $log; needs python3-venv)" >&2
    return 1
  fi
  echo "$SECANTUSDB_VERSION" >"$marker"
}

mongo_server_exec() {
  local data_dir=$1 port=$2
  local bin="$SECANTUSDB_DIR/venv/bin/secantusd-py"
  [[ -x $bin ]] || { echo "secantusdb: $bin missing: run deploy/local/install-deps" >&2; return 1; }
  # --standalone: a plain standalone in `hello` (not a one-node replica set), like a dev mongod.
  # --config (an empty file): no secantusd.toml auto-discovered from the cwd or home directory.
  : >>"$data_dir/secantusd.toml" || return 1
  exec "$bin" --config "$data_dir/secantusd.toml" --host "${JOYTIFY_BIND_HOST:-127.0.0.1}" --port "$port" \
    --storage-path "$data_dir/wt" --standalone --log-level WARNING
}
