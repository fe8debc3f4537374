#!/bin/bash
# Run b: the stats job at 5000 users x 500 playbacks (dataset of run a, db joytify-bench-a),
# 1 worker, --playback-reads range, stopped after LIMIT seconds; metrics scraped every 15 s.
set -u
W=/work/wt-benchrun; B=$W/build; OUT=$1; LIMIT=${2:-900}
DB=joytify-bench-a; BR=127.0.0.1:29592; URI=mongodb://127.0.0.1:27617
P=$DB.manual-b-$$; mkdir -p $OUT/logs
PY=${JT_PYTHON:-$HOME/.cache/joytify/venv/bin/python}
$PY - <<PYEOF
import pymongo
d = pymongo.MongoClient("$URI")["$DB"]
print("reset:", d.stats.update_many({}, {"\$pull": {"stats": {"summary.year": 2026, "summary.month": 11}}}).modified_count,
      d.jobs.delete_many({}).deleted_count, d.users.update_many({}, {"\$set": {"notifications": []}}).modified_count,
      d.notifications.delete_many({}).deleted_count)
PYEOF
T="--stats-topic $P.stats --cleanup-topic $P.cleanup --status-topic $P.status --dlq-topic $P.dlq"
$B/worker/joytify-worker --group $P.workers $T --retention-days 36500 --metrics-addr 127.0.0.1:0 \
  --playback-reads range --brokers $BR --mongo-uri $URI --db $DB > $OUT/logs/stats-range-worker1.log 2>&1 &
WP=$!; echo "worker pid $WP"
for i in $(seq 300); do grep -q "rebalance assigned: " $OUT/logs/stats-range-worker1.log && break; sleep 0.2; done
sleep 2
PORT=$(grep -o "serving /metrics.*(port [0-9]*" $OUT/logs/stats-range-worker1.log | grep -o "[0-9]*$" | head -1)
m() { curl -s 127.0.0.1:$PORT/metrics | awk -v n="$1" '$1 ~ "^"n {s+=$2} END {printf "%d", s}'; }
R0=$(m joytify_db_requests_total); U0=$(m joytify_users_read_total)
curl -s 127.0.0.1:$PORT/metrics | grep -E "^joytify_(db_requests|users_read)" > $OUT/logs/stats-range-metrics-before.txt
echo "metrics port $PORT; before: db_requests $R0 users_read $U0"
T0=$(date +%s.%N)
/usr/bin/time -v $B/producer/joytify-producer stats --month 2026-11 --shards 16 --users-per-task 2000 $T \
  --brokers $BR --mongo-uri $URI --db $DB > $OUT/logs/stats-range-producer.log 2>&1
echo "producer exit $?"
echo "t_s db_requests users_read vmhwm_kb"
while :; do
  now=$(date +%s.%N); el=$(echo "$now - $T0" | bc)
  R=$(m joytify_db_requests_total); U=$(m joytify_users_read_total)
  H=$(awk '/VmHWM/ {print $2}' /proc/$WP/status)
  echo "$el $((R-R0)) $((U-U0)) $H"
  done_=$($PY -c "import pymongo; print(pymongo.MongoClient('$URI')['$DB'].jobs.count_documents({'_id': 'stats-2026-11', 'state': {'\$in': ['finished','failed']}}))" 2>/dev/null)
  [ "${done_:-0}" != "0" ] && { echo "job finished at $el s"; break; }
  [ $(echo "$el > $LIMIT" | bc) = 1 ] && { echo "stopped at limit $LIMIT s"; break; }
  sleep 15
done
curl -s 127.0.0.1:$PORT/metrics | grep -E "^joytify_(db_requests|users_read)" > $OUT/logs/stats-range-metrics-after.txt
kill -TERM $WP; wait $WP; echo "worker exit $?"
