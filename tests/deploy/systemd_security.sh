#!/usr/bin/env bash
# Scores each unit of deploy/systemd with `systemd-analyze security --offline=true` and fails
# when one is exposed above the limit (2.0 of 10; the units scored 6.9 to 7.2 before their
# hardening). A copy of a unit without its hardening block must score above the limit, so the
# check can fail. Exit 77 (ctest: skipped) only when systemd-analyze is absent.
# Usage: systemd_security.sh [LIMIT]
set -u
limit=${1:-2.0}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
units=$root/deploy/systemd
if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP systemd-analyze is missing (Debian package systemd): units not scored"
        exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
ok() { echo "ok   $*"; }

# The overall exposure of a unit file, e.g. 1.1 (empty when systemd-analyze did not score it).
score() {
        SYSTEMD_LOG_LEVEL=err systemd-analyze security --offline=true --no-pager "$1" 2>"$tmp/err" |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
above() { awk -v s="$1" -v l="$2" 'BEGIN { exit !(s > l) }'; }

for u in "$units"/*.service; do
        s=$(score "$u")
        if [ -z "$s" ]; then
                fail "$(basename "$u"): no score from systemd-analyze: $(cat "$tmp/err")"
        elif above "$s" "$limit"; then
                fail "$(basename "$u"): exposure $s, expected <= $limit" \
                        "(systemd-analyze security --offline=true $u lists what is missing)"
        else
                ok "$(basename "$u"): exposure $s <= $limit"
        fi
done

# One sandbox for the three (tests/deploy/systemd_syscalls.sh traces the programs against it).
block() { sed -n '/^# Hardening:/,/^\[Install\]/p' "$1"; }
for u in "$units"/*.service; do
        if [ "$(block "$u")" = "$(block "$units/joytify-worker@.service")" ]; then
                ok "$(basename "$u"): the same hardening block as the worker"
        else
                fail "$(basename "$u"): its hardening block differs from the worker's"
        fi
done

# The check can fail: the worker without its hardening block (from the line that opens it up
# to [Install]) scores above the limit.
sed '/^# Hardening:/,/^\[Install\]/{/^\[Install\]/!d}' "$units/joytify-worker@.service" \
        >"$tmp/joytify-worker@.service"
s=$(score "$tmp/joytify-worker@.service")
if [ -n "$s" ] && above "$s" "$limit"; then
        ok "the worker without its hardening is refused: exposure $s > $limit"
else
        fail "the worker without its hardening scored '$s', expected above $limit"
fi
if [ "$failed" = 0 ]; then echo "systemd_security: PASS"; else echo "systemd_security: $failed FAILED"; fi
[ "$failed" = 0 ]
