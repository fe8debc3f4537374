# mongo-java-server: MongoDB-compatible server candidate: de.bwaldvogel:mongo-java-server (Maven
# Central) with its H2 MVStore backend for persistence, run by the tiny main in java/ (the
# library has no command line). Sourced by install-deps and stack; the interface is described at
# the top of deploy/local/stack.

MJS_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/java"
MJS_DIR="${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify}/mongo-java-server"

_mjs_version() {
  sed -n 's:.*<mongo-java-server.version>\(.*\)</mongo-java-server.version>.*:\1:p' "$MJS_SRC_DIR/pom.xml"
}

# What the install is made of: the pom's version and a hash of the main, so an edit rebuilds.
_mjs_stamp() {
  printf '%s %s\n' "$(_mjs_version)" "$(sha256sum "$MJS_SRC_DIR/JoytifyMongoServer.java" | cut -c1-16)"
}

mongo_server_install() {
  local marker="$MJS_DIR/.installed" stamp
  stamp=$(_mjs_stamp)
  if [[ -f $MJS_DIR/classes/JoytifyMongoServer.class && -f $marker && "$(cat "$marker")" == "$stamp" ]]; then
    return 0
  fi
  local tool
  for tool in java javac mvn; do
    command -v $tool >/dev/null || {
      echo "mongo-java-server: $tool not found (apt-get install openjdk-17-jdk-headless maven)" >&2
      return 1
    }
  done
  [[ ${JOYTIFY_QUIET:-0} == 1 ]] || echo "mongo-java-server: fetching mongo-java-server $(_mjs_version) and compiling its main"
  mkdir -p "$MJS_DIR" || return 1
  local log="$MJS_DIR/install.log" rc=0 cache=${JOYTIFY_CACHE_DIR:-$HOME/.cache/joytify}
  (
    set -euo pipefail
    rm -rf "$MJS_DIR/lib" "$MJS_DIR/classes"
    # The Maven repository install-deps uses for Kafka: shared, under the joytify cache.
    mvn -B -q -Dmaven.repo.local="$cache/m2" -f "$MJS_SRC_DIR/pom.xml" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$MJS_DIR/lib"
    javac -d "$MJS_DIR/classes" -cp "$MJS_DIR/lib/*" "$MJS_SRC_DIR/JoytifyMongoServer.java"
  ) >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 30 "$log" >&2
    echo "mongo-java-server: install failed (exit $rc; log: $log)" >&2
    return 1
  fi
  echo "$stamp" >"$marker"
}

mongo_server_exec() {
  local data_dir=$1 port=$2
  [[ -f $MJS_DIR/classes/JoytifyMongoServer.class ]] ||
    { echo "mongo-java-server: not installed in $MJS_DIR: run deploy/local/install-deps" >&2; return 1; }
  # The whole data set lives in the JVM heap while it is used (H2 MVStore caches it): give it room.
  exec java ${JOYTIFY_MJS_JAVA_OPTS:--Xmx4g} -cp "$MJS_DIR/classes:$MJS_DIR/lib/*" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    JoytifyMongoServer "$data_dir/mongo-java-server.mv.db" "$port"
}
