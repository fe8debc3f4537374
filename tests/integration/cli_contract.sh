#!/usr/bin/env bash
# The programs' front door as a user meets it: --help (a command's own options, wrapped to the
# terminal, an example that parses), --version (the libraries' versions), exit code 2 with a
# named option or argument for bad input, 75 for unreachable servers named with their address,
# secrets never printed.
# Usage: cli_contract.sh BUILD_DIR  (JT_KAFKA_BROKERS / JT_MONGO_URI point at the test stack)
set -u
build=$1
producer=$build/producer/joytify-producer
worker=$build/worker/joytify-worker
notifier=$build/notifier/joytify-notifier
loadtest=$build/loadtest/joytify-loadtest
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect NAME WANT_RC WANT_TEXT [UNWANTED_TEXT] -- COMMAND...
expect() {
        local name=$1 want_rc=$2 want=$3 unwanted=$4
        shift 5
        "$@" >"$out" 2>&1
        local rc=$?
        if [ "$rc" != "$want_rc" ]; then
                echo "FAIL $name: exit code $rc, expected $want_rc; output:"; cat "$out"
                failed=$((failed + 1)); return
        fi
        if ! grep -qF -- "$want" "$out"; then
                echo "FAIL $name: output lacks \"$want\"; output:"; cat "$out"
                failed=$((failed + 1)); return
        fi
        if [ -n "$unwanted" ] && grep -qF -- "$unwanted" "$out"; then
                echo "FAIL $name: output contains \"$unwanted\"; output:"; cat "$out"
                failed=$((failed + 1)); return
        fi
        echo "ok   $name"
        passed=$((passed + 1))
}

for prog in "$producer" "$worker" "$notifier" "$loadtest"; do
        p=$(basename "$prog")
        expect "$p --help" 0 "Usage: $p" "" -- "$prog" --help
        expect "$p --version" 0 "$p 0." "" -- "$prog" --version
done
expect "producer without command" 2 "Usage: joytify-producer COMMAND" "" -- "$producer"
expect "producer unknown command" 2 'unknown command "frobnicate"' "" -- "$producer" frobnicate
expect "stats --help lists options" 0 "--shards N" "" -- "$producer" stats --help
expect "shards out of range" 2 "--shards must be 1..4096 (got 0)" "" -- "$producer" stats --shards 0
expect "shards too many" 2 "--shards must be 1..4096 (got 5000)" "" -- "$producer" stats --shards 5000
expect "stats --help lists users per task" 0 "--users-per-task N" "" -- "$producer" stats --help
expect "stats --help names the replica cap" 0 "at most N workers get work" "" -- "$producer" stats --help
expect "users per task 0" 2 "--users-per-task must be 1..10000000 (got 0)" "" -- "$producer" stats --users-per-task 0
expect "task budget 0" 2 "--task-budget must be 1..86400 (got 0)" "" -- "$producer" stats --task-budget 0
expect "retention guard" 2 "--retention-days must be 7..36500 (got 3)" "" -- \
        "$producer" cleanup --retention-days 3
expect "range-hours guard" 2 "--range-hours must be 1..8784 (got 0)" "" -- \
        "$producer" cleanup --range-hours 0
expect "worker unknown option" 2 "unknown option --frob" "" -- "$worker" --frob
expect "worker unknown -X key" 2 "-X no.such.key: unknown librdkafka setting" "" -- \
        "$worker" -X no.such.key=1
expect "worker -X secret value hidden" 2 "-X socket.timeout.ms" "hunter2" -- \
        "$worker" -X sasl.password=hunter2 -X socket.timeout.ms=nope
expect "worker bad log level" 2 "--log-level must be debug, info, warn or error" "" -- \
        "$worker" --log-level loud
expect "worker app API key never an option" 2 "--app-api-key cannot be given on the command line" \
        "hunter2" -- "$worker" --app-api-key=hunter2
expect "worker app API URL https" 2 "--app-api-url must be https (got http://app.example.com)" \
        "hunter2" -- env JT_APP_API_KEY=hunter2 "$worker" --app-api-url http://app.example.com/push
expect "worker app API URL without its key" 2 "JT_APP_API_KEY is not" "" -- \
        env -u JT_APP_API_KEY "$worker" --app-api-url https://app.example.com/push
expect "worker app API key never in help" 0 "JT_APP_API_KEY" "hunter2" -- \
        env JT_APP_API_KEY=hunter2 "$worker" --help
expect "unreachable broker named" 75 "cannot reach Kafka at 127.0.0.1:1 within 2 s" "" -- \
        "$worker" --brokers 127.0.0.1:1 --kafka-timeout 2
expect "unreachable database named, password hidden" 75 \
        "cannot reach MongoDB at mongodb://***@127.0.0.1:1" "hunter2" -- \
        env JT_MONGO_URI="mongodb://joy:hunter2@127.0.0.1:1" "$worker" --mongo-timeout 2
expect "write concern 0 refused" 2 '--write-concern must be "majority" or a number of nodes 1..50 (got "0")' "" -- \
        "$worker" --write-concern 0
expect "write concern word refused" 2 '--write-concern must be "majority" or a number of nodes 1..50 (got "most")' "" -- \
        "$producer" stats --write-concern most
expect "write timeout out of range" 2 "--write-timeout must be 1..600000 (got 0)" "" -- \
        "$notifier" run --write-timeout 0
expect "invalid mongo uri, password hidden" 2 "--mongo-uri is not a valid MongoDB connection string" \
        "hunter2" -- "$worker" --mongo-uri "mongodb://joy:hunter2@"
expect "notifier webhook never in help" 0 "DISCORD_WEBHOOK_URL" "hunter2" -- \
        env DISCORD_WEBHOOK_URL="https://discord.com/api/webhooks/1/hunter2" "$notifier" run --help
expect "notifier unknown time zone" 2 "--timezone Mars/Base is not in the time zone database" "" -- \
        "$notifier" run --timezone Mars/Base
expect "notifier unknown message style" 2 '--message-style must be original or embed (got "fancy")' "" -- \
        env JT_MESSAGE_STYLE=fancy "$notifier" run
expect "notifier message styles in help" 0 "JT_MESSAGE_STYLE" "" -- "$notifier" run --help
expect "notifier malformed webhook URL, token hidden" 2 "--webhook-url must be https (got ftp://discord.com)" "hunter2" -- \
        env DISCORD_WEBHOOK_URL="ftp://discord.com/api/webhooks/1/hunter2" "$notifier" run
expect "notifier webhook and sink together" 2 "--sink is for running without a webhook" "hunter2" \
        -- env DISCORD_WEBHOOK_URL="https://discord.com/api/webhooks/1/hunter2" "$notifier" run \
        --sink /dev/null
expect "notifier unreachable database, password hidden" 75 "cannot reach MongoDB" "hunter2" -- \
        env JT_MONGO_URI="mongodb://joy:hunter2@127.0.0.1:1" "$notifier" run --mongo-timeout 2
expect "watch unreachable brokers named" 75 "127.0.0.1:1" "" -- \
        "$notifier" watch --brokers 127.0.0.1:1 --kafka-timeout 2

expect "producer unreachable broker" 75 "cannot reach Kafka at 127.0.0.1:1" "" -- \
        "$producer" stats --month 2026-10 --retention-days 36500 --brokers 127.0.0.1:1 --kafka-timeout 2
expect "loadtest unreachable database" 75 "cannot reach MongoDB" "" -- \
        "$loadtest" capacity --mongo-uri mongodb://127.0.0.1:1 --mongo-timeout 2

title() { # PROGRAM [COMMAND]: "joytify-producer stats"
        echo "$(basename "$1")${2:+ $2}"
}

# Stray positional arguments: refused by every program and command, named, before any server.
for cmd in "$producer stats" "$producer cleanup" "$producer schedule" "$producer replay" \
        "$worker" "$notifier run" "$notifier watch" "$loadtest roundtrip" "$loadtest generate" \
        "$loadtest bench" "$loadtest capacity"; do
        # shellcheck disable=SC2086 # program and command, split on purpose
        expect "$(title $cmd) stray argument" 2 'unexpected argument "stray"' "" -- $cmd stray
done
expect "two stray arguments named" 2 'unexpected arguments "2026-10" "now"' "" -- \
        "$producer" stats 2026-10 now
expect "stray argument escaped" 2 'unexpected argument "a\x1b[2Jb"' "" -- \
        "$worker" "$(printf 'a\033[2Jb')"
expect "loadtest floor takes stats|cleanup" 2 "expected one argument, stats or cleanup" "" -- \
        "$loadtest" floor everything

# Either schedule may be off, not both (checked before any server).
expect "both schedules off" 2 "--stats-cron and --cleanup-cron are both off: nothing to schedule" "" -- \
        "$producer" schedule --stats-cron off --cleanup-cron off
expect "one schedule off is accepted" 75 "cannot reach MongoDB" "" -- \
        "$producer" schedule --stats-cron off --mongo-uri mongodb://127.0.0.1:1 --mongo-timeout 1
expect "a bad cron still named" 2 "--cleanup-cron" "" -- "$producer" schedule --cleanup-cron nope

# --log-format json (or JT_LOG_FORMAT): every line a JSON object, the start failure included;
# librdkafka's repeated connection errors shown once per 30 s, however fast it reconnects.
expect "bad log format" 2 '--log-format must be text or json (got "xml")' "" -- \
        "$worker" --log-format xml
json_log=$(mktemp)
JT_LOG_FORMAT=json "$worker" --brokers 127.0.0.1:1 --kafka-timeout 4 -X reconnect.backoff.ms=10 \
        -X reconnect.backoff.max.ms=20 >"$json_log" 2>&1
rc=$?
if [ "$rc" = 75 ] && python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
docs = [json.loads(line) for line in lines]  # every line one object
assert all({"time", "level", "program", "message"} <= d.keys() for d in docs), docs
assert any("cannot reach Kafka at 127.0.0.1:1" in d["message"] for d in docs), docs
refused = [d for d in docs if "Connection refused" in d["message"]]
assert len(refused) == 1, f"expected one connection error in 4 s, actual {len(refused)}: {refused}"
' "$json_log"; then
        echo "ok   json log lines, connection errors rate-limited"; passed=$((passed + 1))
else
        echo "FAIL json log lines (exit $rc):"; cat "$json_log"; failed=$((failed + 1))
fi
rm -f "$json_log"

# --version: the program's and the libraries' versions; libcurl only where it is linked.
for prog in "$producer" "$worker" "$notifier" "$loadtest"; do
        p=$(basename "$prog")
        for lib in librdkafka libmongoc avro-c; do
                expect "$p --version names $lib" 0 "$lib " "" -- "$prog" --version
        done
done
expect "worker --version names libcurl" 0 "libcurl " "" -- "$worker" --version
expect "notifier --version names libcurl" 0 "libcurl " "" -- "$notifier" run --version
expect "producer --version without libcurl" 0 "librdkafka" "libcurl" -- "$producer" --version

# --help: only the command's options, an example, the exit codes; wrapped to COLUMNS (80 when
# stdout is no terminal).
expect "replay --help has no stats option" 0 "--to-offset" "--shards" -- "$producer" replay --help
expect "watch --help has no database option" 0 "--until-done" "--mongo-uri" -- "$notifier" watch --help
expect "help names exit code 75" 0 "75 Kafka or MongoDB unreachable at start" "" -- \
        env COLUMNS=200 "$worker" --help
help_width() { # PROGRAM ARGS...: the longest line of its --help under the current COLUMNS,
        # but the example's (a line to copy, never wrapped)
        "$@" --help | awk 'prev != "Example:" && length($0) > n { n = length($0) }
                           { prev = $0 } END { print n }'
}
for width in 60 80 120; do
        got=$(COLUMNS=$width help_width "$worker")
        if [ "$got" -le "$width" ] && [ "$got" -gt $((width - 15)) ]; then
                echo "ok   worker --help wraps to COLUMNS=$width (longest line $got)"; passed=$((passed + 1))
        else
                echo "FAIL worker --help at COLUMNS=$width: longest line $got"; failed=$((failed + 1))
        fi
done
got=$(env -u COLUMNS bash -c "$(declare -f help_width); help_width '$producer' stats")
if [ "$got" -le 80 ] && [ "$got" -gt 65 ]; then
        echo "ok   not a terminal: 80 columns (longest line $got)"; passed=$((passed + 1))
else
        echo "FAIL not a terminal: longest line $got, expected 66..80"; failed=$((failed + 1))
fi
# Each command's example is a command line the program accepts.
for cmd in "$producer stats" "$producer cleanup" "$producer schedule" "$producer replay" \
        "$worker" "$notifier run" "$notifier watch" "$loadtest roundtrip" "$loadtest generate" \
        "$loadtest baseline" "$loadtest floor" "$loadtest bench" "$loadtest capacity"; do
        # shellcheck disable=SC2086
        example=$($cmd --help | sed -n '/^Example:$/{n;p}')
        # shellcheck disable=SC2086
        name=$(title $cmd)
        if [ -z "$example" ]; then
                echo "FAIL $name --help has no example"; failed=$((failed + 1)); continue
        fi
        # shellcheck disable=SC2086 # the example's words, as a shell would split them
        eval "set -- $example"
        shift
        expect "$name example parses" 0 "Usage:" "" -- "${cmd%% *}" "$@" --help
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
