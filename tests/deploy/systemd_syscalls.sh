#!/usr/bin/env bash
# The hardened units still let the programs work: runs each unit's program (the worker, the
# notifier posting to a local webhook, the scheduler, the producer sending a statistics job
# whose cleanup is chained) under strace on the local stack until both jobs are posted, then
# checks what the sandbox of deploy/systemd allows: every system call in the units'
# SystemCallFilter (expanded by systemd-analyze syscall-filter), sockets only of the
# RestrictAddressFamilies, no writable and executable memory (MemoryDenyWriteExecute), no /proc
# file outside the process's own (ProcSubset=pid), no file opened for writing but the MongoDB
# driver's /dev/shm counters. systemd cannot run here (not PID 1), so this traces what it
# would filter. Needs the stack's environment (ctest fixture jt_stack), strace, systemd.
# Usage: systemd_syscalls.sh BUILD_DIR
set -u
build=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
unit=$root/deploy/systemd/joytify-worker@.service
tmp=$(mktemp -d)
pids=()
# SIGTERM to the traced programs (strace's children), as systemd stops them; strace then exits.
stop() {
        local p c
        for p in "${pids[@]}"; do
                for c in $(pgrep -P "$p"); do kill -TERM "$c" 2>/dev/null; done
                kill -0 "$p" 2>/dev/null && ! pgrep -P "$p" >/dev/null && kill -TERM "$p" 2>/dev/null
        done
        for _ in $(seq 100); do
                local alive=0
                for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
                [ $alive = 0 ] && break
                sleep 0.1
        done
        for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
        wait 2>/dev/null
        pids=()
}
trap 'stop; rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
ok() { echo "ok   $*"; }
for tool in strace systemd-analyze python3; do
        command -v $tool >/dev/null || { echo "FAIL $tool is missing (deploy/local/install-deps)"; exit 1; }
done

# Unique topics, group and database: other tests share the stack.
run=sys$$
export JT_MONGO_DB=deploy-$run JT_WORKER_GROUP=workers-$run
topics=(--stats-topic "$run.stats" --cleanup-topic "$run.cleanup" --status-topic "$run.status"
        --dlq-topic "$run.dlq" --task-partitions 2)
"$build/loadtest/joytify-loadtest" generate --users 20 --playbacks-per-user 30 --drop \
        >"$tmp/generate.log" 2>&1 || { cat "$tmp/generate.log"; exit 1; }

cat >"$tmp/hook.py" <<'EOF'
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
print(server.server_address[1], flush=True)
server.serve_forever()
EOF
python3 "$tmp/hook.py" >"$tmp/hook.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/hook.port" ] && break; sleep 0.1; done
hook_port=$(cat "$tmp/hook.port")

traced() { # NAME PROGRAM ARGS...: the program under strace, its trace in $tmp/NAME.st
        local name=$1
        shift
        strace -f -qq -o "$tmp/$name.st" "$@" >"$tmp/$name.log" 2>&1 &
        pids+=($!)
}
# The notifier only reads the status topic and creates none: the topics exist before it starts.
"$build/producer/joytify-producer" topics "${topics[@]}" >"$tmp/topics.log" 2>&1 ||
        { cat "$tmp/topics.log"; exit 1; }
traced worker "$build/worker/joytify-worker" --metrics-addr 127.0.0.1:0 "${topics[@]}"
export DISCORD_WEBHOOK_URL=http://127.0.0.1:$hook_port/api/webhooks/1/token
traced notifier "$build/notifier/joytify-notifier" run --progress-messages --metrics-addr 127.0.0.1:0 --group "notifier-$run" "${topics[@]}"
traced scheduler "$build/producer/joytify-producer" schedule "${topics[@]}"
sleep 3
strace -f -qq -o "$tmp/producer.st" "$build/producer/joytify-producer" stats "${topics[@]}" \
        >"$tmp/producer.log" 2>&1 || fail "producer stats: $(tail -3 "$tmp/producer.log")"
# The statistics job and a cleanup (the chained one, or the scheduler's catch-up), both posted.
posted() { grep -c "job=$1.*JOB_FINISHED: posted" "$tmp/notifier.log"; }
for _ in $(seq 240); do
        [ "$(posted stats-)" -ge 1 ] && [ "$(posted cleanup-)" -ge 1 ] && break
        sleep 0.5
done
if [ "$(posted stats-)" -ge 1 ] && [ "$(posted cleanup-)" -ge 1 ]; then
        ok "under strace: a statistics and a cleanup job ran and were posted"
else
        fail "expected a statistics and a cleanup job posted within 120 s; notifier:" \
                "$(tail -5 "$tmp/notifier.log"); worker: $(tail -5 "$tmp/worker.log")"
fi
stop

# What the unit allows (the three units carry the same sandbox).
filter=$(grep '^SystemCallFilter=' "$unit" | sed 's/^SystemCallFilter=//')
allow=$(sed -n 1p <<<"$filter")
deny=$(sed -n 2p <<<"$filter" | sed 's/^~//')
expand() { # the system calls of groups and names, one a line
        for g in "$@"; do
                case "$g" in
                @*) systemd-analyze syscall-filter "$g" | sed -n 's/^ *\([a-z0-9_]\{1,\}\)$/\1/p'
                        for sub in $(systemd-analyze syscall-filter "$g" | sed -n 's/^ \{1,\}\(@[a-z-]\{1,\}\)$/\1/p'); do
                                expand "$sub"
                        done ;;
                *) echo "$g" ;;
                esac
        done
}
# shellcheck disable=SC2086 # the groups, split
expand $allow | sort -u >"$tmp/allowed.all"
# shellcheck disable=SC2086
expand $deny | sort -u >"$tmp/denied"
comm -23 "$tmp/allowed.all" "$tmp/denied" >"$tmp/allowed"
families=$(grep '^RestrictAddressFamilies=' "$unit" | sed 's/^RestrictAddressFamilies=//')
[ "$(wc -l <"$tmp/allowed")" -gt 100 ] || fail "the unit's filter expanded to too few calls: $filter"

for name in worker notifier scheduler producer; do
        st=$tmp/$name.st
        calls=$(sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1(/' "$st" |
                grep -oE '^[a-z0-9_]+\(' | tr -d '(' | sort -u)
        outside=$(comm -23 <(echo "$calls") "$tmp/allowed" | tr '\n' ' ')
        [ -z "$outside" ] && ok "$name: $(wc -w <<<"$calls") system calls, all in $allow less $deny" ||
                fail "$name: system calls outside the units' SystemCallFilter: $outside"
        bad=$(grep -oE 'socket\(AF_[A-Z0-9]+' "$st" | sed 's/socket(//' | sort -u |
                while read -r f; do case " $families " in *" $f "*) ;; *) echo "$f" ;; esac; done)
        [ -z "$bad" ] && ok "$name: sockets only of $families" ||
                fail "$name: sockets outside RestrictAddressFamilies: $bad"
        wx=$(grep -E '(mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC' "$st" |
                grep -E 'PROT_WRITE|MAP_ANONYMOUS|mprotect' | head -3)
        [ -z "$wx" ] && ok "$name: no writable or anonymous executable memory" ||
                fail "$name: MemoryDenyWriteExecute would refuse: $wx"
        # glibc's malloc reads it when it trims a thread arena's heap (check_may_shrink_heap,
        # timing-dependent) and takes an unreadable file as "do not shrink": harmless hidden.
        glibc_may_read=/proc/sys/vm/overcommit_memory
        procs=$(grep -oE 'open(at)?\([^"]*"/proc/[^"]*"' "$st" | sed 's/.*"\(.*\)"/\1/' |
                grep -vE '^/proc/(self|thread-self|[0-9]+)(/|$)' |
                grep -vxF "$glibc_may_read" | sort -u | head -3)
        [ -z "$procs" ] && ok "$name: no /proc file but its own" ||
                fail "$name: ProcSubset=pid hides $procs"
        writes=$(grep -E 'open(at)?\(.*O_(WRONLY|RDWR|CREAT)' "$st" | grep -v ' = -1 ' |
                grep -vE '"/dev/(shm/mongoc-[0-9]+|null)"' | head -3)
        [ -z "$writes" ] && ok "$name: no file opened for writing (but /dev/shm/mongoc-*)" ||
                fail "$name: writes a file: $writes"
done
# The check can fail: a filter without @network-io refuses what the worker did.
expand @network-io | sort -u | comm -23 "$tmp/allowed" - >"$tmp/allowed.nonet"
outside=$(sed -E 's/^[0-9]+ +//' "$tmp/worker.st" | grep -oE '^[a-z0-9_]+\(' | tr -d '(' |
        sort -u | comm -23 - "$tmp/allowed.nonet" | tr '\n' ' ')
[ -n "$outside" ] && ok "a filter without @network-io is refused: $outside" ||
        fail "a filter without @network-io let the worker's calls through"
if [ "$failed" = 0 ]; then echo "systemd_syscalls: PASS"; else echo "systemd_syscalls: $failed FAILED"; fi
[ "$failed" = 0 ]
