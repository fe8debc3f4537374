#!/usr/bin/env bash
# The local stack as an operator meets it: a second `up` is a no-op, a killed server is reported
# crashed by `status` and restarted alone by `up`, and `down` leaves no process behind.
# Runs on the test stack (JT_STACK_STATE_DIR, ports from JT_KAFKA_BROKERS/JT_MONGO_URI), then on
# a second, private stack in a temporary directory, which it always takes down.
set -u
stack=$JT_SOURCE_DIR/deploy/local/stack
state=$JT_STACK_STATE_DIR
kport=${JT_KAFKA_BROKERS##*:}
mport=${JT_MONGO_URI#mongodb://127.0.0.1:}; mport=${mport%%/*}
args=(--state-dir "$state" --kafka-port "$kport" --mongo-port "$mport"
        --kafka-controller-port "${JT_KAFKA_CONTROLLER_PORT:-$((kport + 1))}")
passed=0
failed=0
check() { # NAME CONDITION-RESULT DETAIL
        if [ "$2" = 0 ]; then echo "ok   $1"; passed=$((passed + 1));
        else echo "FAIL $1: $3"; failed=$((failed + 1)); fi
}

out=$("$stack" status "${args[@]}" 2>&1); rc=$?
check "test stack running" $rc "status exit $rc: $out"

out=$("$stack" up "${args[@]}" 2>&1); rc=$?
echo "$out" | grep -q "already running"; check "second up is a no-op" $((rc + $?)) "$out"

mpid=$(cat "$state/run/mongo.pid")
kill -9 -- "-$mpid"
sleep 1
out=$("$stack" status "${args[@]}" 2>&1); rc=$?
[ $rc = 3 ] && echo "$out" | grep -q "^mongo  *crashed"; check "status reports the killed server crashed (exit 3)" $? "exit $rc: $out"
echo "$out" | grep -q "^kafka  *running"; check "the other server still runs" $? "$out"

out=$("$stack" up "${args[@]}" 2>&1); rc=$?
echo "$out" | grep -q "kafka.*already running"; check "up restarts only the crashed server" $((rc + $?)) "$out"
out=$("$stack" status "${args[@]}" 2>&1); rc=$?
check "both running again" $rc "exit $rc: $out"

# A private stack on other ports: up, down, and nothing of it left.
tmp=$(mktemp -d)
pargs=(--state-dir "$tmp" --kafka-port $((kport + 100)) --kafka-controller-port $((kport + 101))
        --mongo-port $((mport + 100)))
trap '"$stack" down "${pargs[@]}" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
out=$("$stack" up "${pargs[@]}" 2>&1); rc=$?
check "a second stack starts beside the first" $rc "$out"
pids=$(cat "$tmp/run/kafka.pid" "$tmp/run/mongo.pid" 2>/dev/null)
out=$("$stack" down "${pargs[@]}" 2>&1); rc=$?
check "down succeeds" $rc "$out"
left=""
for p in $pids; do
        # A zombie (state Z) is dead; only a live process counts as left behind.
        st=$(ps -o stat= -g "$p" 2>/dev/null | grep -v '^Z' || true)
        [ -n "$st" ] && left="$left $p"
done
[ -z "$left" ]; check "down leaves no process behind" $? "process groups still alive:$left"
[ ! -e "$tmp/run/kafka.pid" ] && [ ! -e "$tmp/run/mongo.pid" ]; check "pid files removed" $? "$(ls "$tmp/run")"
out=$("$stack" down "${pargs[@]}" 2>&1); rc=$?
check "down again is a no-op" $rc "$out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
