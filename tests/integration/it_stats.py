"""Helpers shared by the statistics tests (import after it_fleet.require_venv: needs bson):
the Python oracle, month arithmetic, documents as canonical Extended JSON and their first
difference, and reporting a list of problems."""

import calendar
import importlib.util
import json
import os

from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import CANONICAL_JSON_OPTIONS

from it_fleet import fail, log


def load_oracle(source_dir):
    """tests/tools/stats_oracle.py, the independent implementation of the month entry."""
    path = os.path.join(source_dir, "tests", "tools", "stats_oracle.py")
    spec = importlib.util.spec_from_file_location("stats_oracle", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def month_start_ms(year, month):
    return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000


def add_months(year, month, n):
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def db_handle(client, name):
    """The database with dates as milliseconds (DatetimeMS): exact, and never out of range."""
    return client.get_database(name, codec_options=CodecOptions(
        datetime_conversion=DatetimeConversion.DATETIME_MS))


def canonical(doc):
    """A document as canonical Extended JSON (a plain dict/list tree, order kept)."""
    return json.loads(json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS))


def first_difference(expected, actual, path="entry"):
    """The first place where two canonical trees differ (types, values, key order), or None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if list(expected) != list(actual):
            return f"{path}: keys expected {list(expected)}, actual {list(actual)}"
        for k in expected:
            d = first_difference(expected[k], actual[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = first_difference(e, a, f"{path}[{i}]")
            if d:
                return d
        if len(expected) != len(actual):
            return f"{path}: length expected {len(expected)}, actual {len(actual)}"
        return None
    if expected != actual:
        return f"{path}: expected {json.dumps(expected)[:200]}, actual {json.dumps(actual)[:200]}"
    return None


def report(problems, what, limit=25):
    """Fails listing the problems (at most limit of them), or logs "ok  what"."""
    if problems:
        fail(f"{what}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:limit])
             + (f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""))
    log(f"ok  {what}")


def stats_docs_by_user(db):
    """({user: its stats document}, [problems]): a user with two stats documents is a problem."""
    problems, docs = [], {}
    for d in db.stats.find({}):
        if d.get("user") in docs:
            problems.append(f"user {d.get('user')}: two stats documents")
        docs[d.get("user")] = d
    return docs, problems
