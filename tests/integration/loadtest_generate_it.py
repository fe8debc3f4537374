#!/usr/bin/env python3
"""`joytify-loadtest generate` on the real stack.

Determinism: the same seed and --now into two databases give identical documents in users,
stats, playbacks and musicians (every field, every id); another seed gives other ids.
Distribution: per user, 70% of the playbacks 90..60 days before --now and 30% in the last 30
days (exactly, by construction), times spread over their window (each third of a window holds
20..47% of its playbacks), durations 30 + (i mod 300) (so, per user of N <= 300, each value
30..29+N once), states alternating; songs by skewed popularity (the top song played far more
than the median one); every playback's artist is its song's artist; most users opted in to the
monthly statistics, some not. The indexes the fleet uses exist. A second run without --drop is
refused (exit 1) and adds nothing; bad options exit 2. --only-playbacks-before CUTOFF after the
playbacks older than CUTOFF were deleted puts back exactly the documents that were deleted (the
dataset equals a fresh one again); run again, or with --drop, it is refused and adds nothing.

--history-months N gives every user one stats document holding N monthly entries, oldest
first, for the N calendar months before the month of the oldest playback (90 days before --now),
each with the fields the worker's entries have and createdAt/updatedAt inside its month, growth
chained from the month before; users and playbacks are the same as without history.

Runs under the project venv (pymongo): see it_fleet.require_venv.
"""

import collections
import datetime
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)


from it_fleet import fail, log  # noqa: E402

NOW = "2026-11-01T00:00Z"
NOW_MS = 1793491200000
DAY_MS = 86400000
USERS, PER_USER = 40, 250


def generate(fleet, loadtest, db, seed, *extra):
    return fleet.run(f"generate {db}", [loadtest, "generate", "--db", db, "--users", str(USERS),
                                        "--playbacks-per-user", str(PER_USER), "--artists", "50",
                                        "--songs", "400", "--seed", str(seed), "--now", NOW,
                                        *extra], timeout_s=180)


def dump(db):
    return {c: list(db[c].find({}).sort("_id", 1))
            for c in ("users", "stats", "playbacks", "musicians")}


def check_distribution(db):
    problems = []
    plays = list(db.playbacks.find({}))
    if len(plays) != USERS * PER_USER:
        problems.append(f"playbacks: expected {USERS * PER_USER}, actual {len(plays)}")
    by_user = collections.defaultdict(list)
    for p in plays:
        by_user[p["user"]].append(p)
    old_from, old_to = NOW_MS - 90 * DAY_MS, NOW_MS - 60 * DAY_MS
    new_from = NOW_MS - 30 * DAY_MS
    thirds = {"old": [0, 0, 0], "new": [0, 0, 0]}
    for u, ps in by_user.items():
        times = [int(p["createdAt"].timestamp() * 1000) for p in ps]
        old = [t for t in times if old_from <= t < old_to]
        new = [t for t in times if new_from <= t < NOW_MS]
        if len(old) != PER_USER * 7 // 10 or len(new) != PER_USER - PER_USER * 7 // 10:
            problems.append(f"user {u}: expected {PER_USER * 7 // 10} old and "
                            f"{PER_USER - PER_USER * 7 // 10} recent playbacks, actual "
                            f"{len(old)} and {len(new)} (of {len(times)})")
        for t in old:
            thirds["old"][min(2, (t - old_from) * 3 // (30 * DAY_MS))] += 1
        for t in new:
            thirds["new"][min(2, (t - new_from) * 3 // (30 * DAY_MS))] += 1
        durations = sorted(p["duration"] for p in ps)
        if durations != [float(30 + i) for i in range(PER_USER)]:
            problems.append(f"user {u}: durations expected 30..{29 + PER_USER} once each, actual "
                            f"{durations[:5]}...")
        states = collections.Counter(p["state"] for p in ps)
        if states != {"completed": PER_USER // 2 + PER_USER % 2, "playing": PER_USER // 2}:
            problems.append(f"user {u}: states expected alternating, actual {dict(states)}")
    for window, counts in thirds.items():
        total = sum(counts)
        if any(not 0.20 <= c / total <= 0.47 for c in counts):
            problems.append(f"{window} window: expected times spread evenly over its thirds, "
                            f"actual {counts}")
    songs = collections.Counter(p["song"] for p in plays)
    ranked = [n for _, n in songs.most_common()]
    if ranked[0] < 8 * ranked[len(ranked) // 2]:
        problems.append(f"song popularity: expected skewed (top >= 8x median), actual top "
                        f"{ranked[0]}, median {ranked[len(ranked) // 2]}")
    song_artist = {}
    for p in plays:
        if song_artist.setdefault(p["song"], p["artist"]) != p["artist"]:
            problems.append(f"song {p['song']}: two artists")
            break
    names = {m["_id"]: m.get("name") for m in db.musicians.find({})}
    if not all(names.get(a) for a in set(song_artist.values())):
        problems.append("every played artist: expected a musicians document with a name")
    opted = sum(1 for u in db.users.find({}) if
                u["userPreferences"]["notifications"]["monthlyStatistic"])
    if not USERS * 0.6 <= opted < USERS:
        problems.append(f"monthlyStatistic: expected most users opted in, some not, actual "
                        f"{opted} of {USERS}")
    if db.stats.count_documents({}) != USERS:
        problems.append(f"stats documents: expected {USERS}")
    have = set(db.playbacks.index_information())
    if not {"user_1_createdAt_1", "createdAt_1"} <= have:
        problems.append(f"playbacks indexes: expected user_1_createdAt_1 and createdAt_1, actual "
                        f"{sorted(have)}")
    return problems


HISTORY_MONTHS = 3
# 90 days before NOW is 2026-08-03: the history is the three months before August.
HISTORY = [(2026, 5), (2026, 6), (2026, 7)]
ENTRY_FIELDS = {"songs", "artists", "peakHour", "summary", "createdAt", "updatedAt"}
SUMMARY_FIELDS = {"month", "year", "totalDuration", "growthPercentage", "topArtist",
                  "topArtistTotalPlaybackTime"}


def check_history(db, users):
    problems = []
    docs = list(db.stats.find({}))
    per_user = collections.Counter(d["user"] for d in docs)
    if set(per_user) != users or set(per_user.values()) != {1}:
        problems.append(f"stats: expected one document per user ({len(users)}), actual "
                        f"{len(docs)} documents for {len(per_user)} users")
    for d in docs:
        months = [(e.get("summary", {}).get("year"), e.get("summary", {}).get("month"))
                  for e in d["stats"]]
        if months != HISTORY:
            problems.append(f"user {d['user']}: expected entries for {HISTORY}, actual {months}")
            continue
        prev = None
        for e, (year, month) in zip(d["stats"], HISTORY):
            start = datetime.datetime(year, month, 1, tzinfo=datetime.timezone.utc)
            end = datetime.datetime(year + month // 12, month % 12 + 1, 1,
                                    tzinfo=datetime.timezone.utc)
            s = e["summary"]
            if set(e) != ENTRY_FIELDS or set(s) != SUMMARY_FIELDS:
                problems.append(f"user {d['user']} {year}-{month:02d}: expected fields "
                                f"{sorted(ENTRY_FIELDS)} and summary {sorted(SUMMARY_FIELDS)}, "
                                f"actual {sorted(e)} and {sorted(s)}")
            elif not (start <= e["createdAt"] <= e["updatedAt"] < end) or not e["songs"] or \
                    not e["artists"] or not e["peakHour"]:
                problems.append(f"user {d['user']} {year}-{month:02d}: expected songs, artists, "
                                f"hours and times inside the month, actual {e['createdAt']} "
                                f"..{e['updatedAt']}, {len(e['songs'])} songs")
            elif abs(sum(x["totalDuration"] for x in e["songs"]) - s["totalDuration"]) > 1e-6 \
                    or s["topArtistTotalPlaybackTime"] != e["artists"][0]["totalDuration"]:
                problems.append(f"user {d['user']} {year}-{month:02d}: expected the total to be "
                                f"the songs' sum and the top artist artists[0], actual {s}")
            want_growth = 0.0 if prev is None else \
                round((s["totalDuration"] - prev) / prev * 100, 2)
            if abs(s["growthPercentage"] - want_growth) > 0.011:
                problems.append(f"user {d['user']} {year}-{month:02d}: expected growth "
                                f"{want_growth}, actual {s['growthPercentage']}")
            prev = s["totalDuration"]
    return problems


def main():
    def body(fleet, client, dbs):
        dbs.extend(f"jt_it_gen_{os.getpid()}_{k}" for k in "abc")
        loadtest = os.path.join(fleet.build_dir, "loadtest", "joytify-loadtest")
        for name in dbs:
            client.drop_database(name)
        for name, seed in zip(dbs, (11, 11, 12)):
            rc, out = generate(fleet, loadtest, name, seed)
            if rc != 0 or f"{USERS * PER_USER} playbacks" not in out:
                fail(f"generate into {name}: expected exit 0 and '{USERS * PER_USER} playbacks', "
                     f"actual exit {rc}")
        a, b, c = (dump(client[n]) for n in dbs)
        for coll in a:
            if a[coll] != b[coll]:
                diff = next((x, y) for x, y in zip(a[coll], b[coll]) if x != y) \
                    if len(a[coll]) == len(b[coll]) else (len(a[coll]), len(b[coll]))
                fail(f"same seed twice, {coll}: expected identical documents, first difference "
                     f"{diff}")
        if {p["_id"] for p in a["playbacks"]} & {p["_id"] for p in c["playbacks"]}:
            fail("another seed: expected other playback ids, actual some shared")
        log(f"ok  same seed twice: identical users, stats, playbacks, musicians "
            f"({sum(len(v) for v in a.values())} documents); another seed: other ids")

        problems = check_distribution(client[dbs[0]])
        if problems:
            fail("distribution:\n  " + "\n  ".join(problems[:20]))
        log("ok  70/30 split, even spread, durations, alternating states, skewed song "
            "popularity, song->artist, opted-in majority, indexes")

        rc, out = generate(fleet, loadtest, dbs[0], 11)
        if rc != 1 or "--drop" not in out or client[dbs[0]].playbacks.count_documents({}) != \
                USERS * PER_USER:
            fail(f"second run without --drop: expected exit 1 naming --drop and nothing added, "
                 f"actual exit {rc}: {out}")
        rc, out = generate(fleet, loadtest, dbs[0], 11, "--drop")
        if rc != 0 or dump(client[dbs[0]]) != a:
            fail(f"--drop then the same seed: expected exit 0 and the same documents, actual {rc}")
        for bad in (["--users", "0"], ["--now", "yesterday"], ["--songs", "10"]):
            rc, out = fleet.run("generate (bad)", [loadtest, "generate", "--db", dbs[0], *bad])
            if rc != 2:
                fail(f"generate {' '.join(bad)}: expected exit 2, actual {rc}: {out}")
        log("ok  a second run is refused without --drop; --drop regenerates the same data; bad "
            "options exit 2")

        hist = f"jt_it_gen_{os.getpid()}_h"
        dbs.append(hist)
        rc, out = generate(fleet, loadtest, hist, 11, "--history-months", str(HISTORY_MONTHS))
        if rc != 0 or "3 monthly entries, 2026-05 to 2026-07" not in out:
            fail(f"--history-months 3: expected exit 0 and '3 monthly entries, 2026-05 to "
                 f"2026-07', actual exit {rc}: {out}")
        h = dump(client[hist])
        for coll in ("users", "playbacks", "musicians"):
            if h[coll] != a[coll]:
                fail(f"--history-months 3, {coll}: expected the documents generated without "
                     f"history, actual {len(h[coll])} documents, some different")
        problems = check_history(client[hist], {u["_id"] for u in h["users"]})
        if problems:
            fail("--history-months:\n  " + "\n  ".join(problems[:20]))
        if any(d["stats"] for d in a["stats"]):
            fail("without --history-months: expected empty stats arrays, actual some entries")
        rc, out = fleet.run("generate (bad history)", [loadtest, "generate", "--db", hist,
                                                       "--history-months", "-1"])
        if rc != 2:
            fail(f"generate --history-months -1: expected exit 2, actual {rc}: {out}")
        log(f"ok  --history-months 3: one stats document per user with entries for {HISTORY}, "
            f"every field, growth chained; users and playbacks unchanged")

        # A cutoff inside the recent 30 days too, so that both windows are cut.
        cutoff_ms = NOW_MS - 20 * DAY_MS
        cutoff_at = datetime.datetime.fromtimestamp(cutoff_ms / 1000, datetime.timezone.utc)
        cutoff = cutoff_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        deleted = client[dbs[0]].playbacks.delete_many(
            {"createdAt": {"$lt": cutoff_at}}).deleted_count
        rc, out = generate(fleet, loadtest, dbs[0], 11, "--only-playbacks-before", cutoff)
        if rc != 0 or f"put back {deleted} playbacks" not in out or dump(client[dbs[0]]) != a:
            fail(f"--only-playbacks-before {cutoff} after deleting {deleted}: expected exit 0, "
                 f"'put back {deleted} playbacks' and the generated documents again, actual exit "
                 f"{rc}: {out}")
        for extra in ([], ["--drop"]):
            rc, out = generate(fleet, loadtest, dbs[0], 11, "--only-playbacks-before", cutoff,
                               *extra)
            if rc != (2 if extra else 1) or client[dbs[0]].playbacks.count_documents({}) != \
                    USERS * PER_USER:
                fail(f"--only-playbacks-before {' '.join(extra)} with the playbacks there: "
                     f"expected exit {2 if extra else 1} and nothing added, actual {rc}: {out}")
        log(f"ok  --only-playbacks-before puts back exactly the {deleted} deleted playbacks; "
            f"refused when they are there or with --drop")

    return it_fleet.run_main("loadtest_generate_it", body, tz_aware=True)


if __name__ == "__main__":
    sys.exit(main())
