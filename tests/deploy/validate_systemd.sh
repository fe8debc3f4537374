#!/usr/bin/env bash
# Checks deploy/systemd/ without installing anything: `systemd-analyze verify` on each unit (the
# worker as an instance, joytify-worker@9101), with ExecStart pointed at the built programs and
# the example environment file; every unit stops rather than restarts after exit 2 (bad usage);
# every ExecStart command line accepted by its program (--help exits 0); the install script's
# plan (--dry-run): the environment file created with mode 0600, the units installed and the
# services enabled, and its refusal of bad arguments.
# Usage: validate_systemd.sh BUILD_DIR
set -u
build=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
units=$root/deploy/systemd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
ok() { echo "ok   $*"; }

command -v systemd-analyze >/dev/null || { echo "FAIL systemd-analyze is missing (Debian package systemd)"; exit 1; }
mkdir -p "$tmp/bin" "$tmp/units"
for p in producer/joytify-producer worker/joytify-worker notifier/joytify-notifier; do
        ln -s "$build/$p" "$tmp/bin/"
done
for u in "$units"/*.service; do
        sed -e "s|/usr/local/bin/|$tmp/bin/|" \
                -e "s|EnvironmentFile=/etc/joytify/joytify.env|EnvironmentFile=$units/joytify.env.example|" \
                "$u" >"$tmp/units/$(basename "$u")"
done
for u in joytify-scheduler.service joytify-notifier.service joytify-worker@9101.service; do
        out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$tmp/units/$u" 2>&1)
        rc=$?
        if [ $rc != 0 ] || [ -n "$out" ]; then
                fail "systemd-analyze verify $u (exit $rc): $out"
        else
                ok "systemd-analyze verify $u"
        fi
        # Bad usage (exit 2) is never restarted; an unreachable server at start (75) is.
        if grep -qx 'RestartPreventExitStatus=2' "$tmp/units/${u/@9101/@}"; then
                ok "$u: no restart after exit 2"
        else
                fail "$u: expected RestartPreventExitStatus=2 (exit 2 is bad usage)"
        fi
        line=$(grep '^ExecStart=' "$tmp/units/${u/@9101/@}" | sed 's/^ExecStart=//; s/%i/9101/g')
        # shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
        if $line --help >/dev/null 2>"$tmp/err"; then
                ok "$u: '$(basename "${line%% *}") ${line#* }' is accepted"
        else
                fail "$u: $line refused: $(cat "$tmp/err")"
        fi
done

# Supervision: each unit waits for READY=1 and watches the loop (common/jt_sd_notify.c).
for u in "$units"/*.service; do
        if grep -qx 'Type=notify' "$u" && grep -qE '^WatchdogSec=[1-9]' "$u"; then
                ok "$(basename "$u"): Type=notify with $(grep -E '^WatchdogSec=' "$u")"
        else
                fail "$(basename "$u"): expected Type=notify and WatchdogSec= (sd_notify READY/WATCHDOG)"
        fi
done

# An outage of any length is waited out: a unit restarted after exit 75 (Kafka or MongoDB
# unreachable at start) must not reach its start limit (StartLimitBurst starts within
# StartLimitIntervalSec, then systemd gives up for good). Each failed start costs at least
# RestartSec, so StartLimitBurst x RestartSec must cover StartLimitIntervalSec (systemd's
# defaults: 5, 10 s, 100 ms).
seconds() { # "10", "10s", "2min", "1min 30s" -> seconds
        python3 -c 'import re,sys; u={"":1,"s":1,"sec":1,"m":60,"min":60,"h":3600,"ms":0.001}
print(sum(float(n)*u[x] for n,x in re.findall(r"([0-9.]+)\s*([a-z]*)", sys.argv[1])))' "$1"
}
for u in "$units"/*.service; do
        key() { grep -E "^$1=" "$u" | tail -1 | cut -d= -f2-; }
        restart=$(key RestartSec); interval=$(key StartLimitIntervalSec); burst=$(key StartLimitBurst)
        restart=$(seconds "${restart:-100ms}"); interval=$(seconds "${interval:-10}")
        if python3 -c "import sys; sys.exit(0 if ${burst:-5} * $restart >= $interval else 1)"; then
                ok "$(basename "$u"): ${burst:-5} starts x RestartSec ${restart} s cover StartLimitIntervalSec ${interval} s"
        else
                fail "$(basename "$u"): ${burst:-5} restarts ${restart} s apart fall within StartLimitIntervalSec ${interval} s: a longer outage (exit 75) stops the unit for good"
        fi
done

# A broken unit is refused (the check can fail).
printf '[Unit]\nDescription=x\n[Service]\nExecStart=%s/bin/joytify-worker\nRestartt=always\n' \
        "$tmp" >"$tmp/units/broken.service"
out=$(systemd-analyze verify "$tmp/units/broken.service" 2>&1)
case "$out" in *"Unknown key"*) ok "a misspelt key is reported: ${out%%$'\n'*}" ;;
*) fail "a misspelt key went unnoticed: $out" ;; esac

plan=$(JOYTIFY_CONF_DIR=$tmp/etc "$units/install" --dry-run --workers 3 --build-dir "$build" 2>&1)
for want in "install -m 0600 $units/joytify.env.example $tmp/etc/joytify.env" \
        "systemctl enable --now joytify-scheduler.service joytify-notifier.service joytify-worker@9101.service joytify-worker@9102.service joytify-worker@9103.service" \
        "cmake --install $build" "systemctl daemon-reload"; do
        case "$plan" in *"$want"*) ok "install --dry-run: $want" ;;
        *) fail "install --dry-run lacks '$want': $plan" ;; esac
done
for bad in "--workers 0" "--workers x" "--first-port 80" "--bogus"; do
        # shellcheck disable=SC2086
        out=$("$units/install" --dry-run $bad 2>&1)
        rc=$?
        [ $rc = 2 ] && ok "install $bad refused: $out" || fail "install $bad: exit $rc, expected 2: $out"
done
if [ "$failed" = 0 ]; then echo "validate_systemd: PASS"; else echo "validate_systemd: $failed FAILED"; fi
[ "$failed" = 0 ]
