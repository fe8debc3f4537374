#!/usr/bin/env python3
"""An independent implementation of a user's monthly statistics entry
(reference/SYSTEM-TO-REPLACE.md, `stats`), to check worker/stats.c against. Plain
Python, standard library only; it shares no code with the C module, only the rules written in
worker/stats.h:

  * sums are exact, correctly rounded once (math.fsum), whatever the order of the playbacks;
  * songs/artists: totalDuration descending, then id ascending; peakHour: hour ascending, only
    hours with playback; the top artist is artists[0], named "Unknown Artist" without a name;
  * round2(x): y = x * 100 as a double, rounded half away from zero on y's exact value
    (decimal.ROUND_HALF_UP on Decimal(y)), divided by 100; a zero is +0;
  * growthPercentage = round2((total - prev) / prev * 100), 0 without a previous total or when
    it is 0; createdAt/updatedAt are the first and last playback of the month;
  * a playback is rejected (skipped and counted) when an id is not 24 hex digits, the duration
    is not a number in [0.001, 2678400] seconds, or createdAt is not in the month;
  * a user without an accepted playback gets no entry.

Input: --playbacks, JSON lines {"user", "song", "artist": hex ObjectId, "duration": seconds,
"createdAt": ms since the epoch}; --context, JSON {"year", "month", "previousTotals": {user:
number or null}, "artistNames": {artist: name or null}}. Output (--out): canonical Extended
JSON v2, {"entries": {user: entry, ...}, "rejected": count}, which libbson reads back exactly.
"""

import argparse
import calendar
import decimal
import json
import math
import re
import sys

MIN_DURATION = 0.001
MAX_DURATION = 2678400.0
UNKNOWN_ARTIST = "Unknown Artist"
HEX_ID = re.compile(r"^[0-9a-f]{24}$")


def month_range_ms(year, month):
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    end = calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))
    return start * 1000, end * 1000


def round2(x):
    y = x * 100
    r = int(decimal.Decimal(y).to_integral_value(rounding=decimal.ROUND_HALF_UP))
    return r / 100 + 0.0  # int / int is correctly rounded, like C's double division


def accepted(p, start, end):
    for key in ("user", "song", "artist"):
        if not isinstance(p.get(key), str) or not HEX_ID.match(p[key]):
            return False
    d, t = p.get("duration"), p.get("createdAt")
    if isinstance(d, bool) or not isinstance(d, (int, float)):
        return False
    if not (MIN_DURATION <= d <= MAX_DURATION):  # False for NaN too
        return False
    if isinstance(t, bool) or not isinstance(t, int):
        return False
    return start <= t < end


def oid(h):
    return {"$oid": h}


def dbl(x):
    return {"$numberDouble": repr(float(x))}


def i32(n):
    return {"$numberInt": str(n)}


def date(ms):
    return {"$date": {"$numberLong": str(ms)}}


def ranked(sums, id_key):
    totals = [(math.fsum(durations), key) for key, durations in sums.items()]
    totals.sort(key=lambda kv: (-kv[0], kv[1]))
    return [{id_key: oid(key), "totalDuration": dbl(total)} for total, key in totals], totals


def entry_for(playbacks, year, month, prev, names):
    songs, artists, hours = {}, {}, {}
    for p in playbacks:
        songs.setdefault(p["song"], []).append(p["duration"])
        artists.setdefault(p["artist"], []).append(p["duration"])
        hours.setdefault(p["createdAt"] // 3600000 % 24, []).append(p["duration"])
    song_docs, _ = ranked(songs, "song")
    artist_docs, artist_totals = ranked(artists, "artist")
    peak = []
    for hour in sorted(hours):
        total = math.fsum(hours[hour])
        peak.append({"hour": i32(hour), "totalDuration": dbl(total),
                     "utilization": dbl(round2(total / 3600 * 100))})
    total = math.fsum(p["duration"] for p in playbacks)
    growth = 0.0
    if prev is not None and prev != 0:
        growth = round2((total - prev) / prev * 100)
    top_total, top_id = artist_totals[0]
    times = [p["createdAt"] for p in playbacks]
    return {
        "songs": song_docs,
        "artists": artist_docs,
        "peakHour": peak,
        "summary": {
            "month": i32(month),
            "year": i32(year),
            "totalDuration": dbl(total),
            "growthPercentage": dbl(growth),
            "topArtist": names.get(top_id) or UNKNOWN_ARTIST,
            "topArtistTotalPlaybackTime": dbl(top_total),
        },
        "createdAt": date(min(times)),
        "updatedAt": date(max(times)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--playbacks", required=True)
    ap.add_argument("--context", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.context, encoding="utf-8") as f:
        ctx = json.load(f)
    year, month = ctx["year"], ctx["month"]
    start, end = month_range_ms(year, month)
    prev_totals = ctx.get("previousTotals", {})
    names = ctx.get("artistNames", {})

    by_user, rejected = {}, 0
    with open(args.playbacks, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            p = json.loads(line)
            if not accepted(p, start, end):
                rejected += 1
                continue
            by_user.setdefault(p["user"], []).append(p)

    entries = {user: entry_for(by_user[user], year, month, prev_totals.get(user), names)
               for user in sorted(by_user)}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"entries": entries, "rejected": i32(rejected)}, f, ensure_ascii=False)
    print(f"stats_oracle: {len(entries)} entries, {rejected} rejected playbacks",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
