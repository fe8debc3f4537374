#!/usr/bin/env python3
"""Checks deploy/prometheus/ offline: `promtool check rules` and `promtool test rules` on the
alert rules (every *.test.yml); deploy/k8s/monitoring/prometheusrule.yaml is what render-prometheusrule makes of
them (no drift); every query of the Grafana dashboard is valid PromQL (promtool parses it as a
recording rule) and, like every alert rule, asks only metrics the programs serve. Those names
are read from the C sources that render /metrics (common/: each metric's name and type, a
histogram's _bucket, _sum and _count), so the check needs no running program; the alert rules
may also ask KEDA's keda_scaler_active (EXTERNAL below). A broken copy of each check must fail.

Usage: check_prometheus.py   (promtool: Debian's prometheus package, deploy/local/install-deps)"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Invalid, expect_refused, verdict  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROM = os.path.join(ROOT, "deploy", "prometheus")
RULES = os.path.join(PROM, "joytify-alerts.yml")
DASHBOARD = os.path.join(PROM, "joytify-fleet-dashboard.json")
# Metrics of other programs that the rules may ask: KEDA's operator (is work waiting?).
EXTERNAL = {"keda_scaler_active"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                "and", "or", "unless", "inf", "nan"}


def program_metrics():
    """Sample names the programs can serve: every "joytify_..." literal of common/ followed by
    its type, as the renderer writes its # TYPE lines."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "common", "**", "*.c"), recursive=True):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, kind in re.findall(
                r'"(joytify_[a-z0-9_]+)",\s*"(counter|gauge|histogram|summary)"', text):
            names.add(name)
            if kind in ("histogram", "summary"):
                names |= {name + "_sum", name + "_count"}
            if kind == "histogram":
                names.add(name + "_bucket")
    # An extraction broken by a refactor must not pass quietly.
    for must in ("joytify_tasks_total", "joytify_consumer_lag", "joytify_build_info",
                 "joytify_batch_duration_seconds_bucket"):
        if must not in names:
            raise Invalid(f"common/*.c: {must} not found where the metrics are rendered "
                          f"(found {sorted(names)}): update program_metrics()")
    return names


def metrics_of(expr):
    """The metric names a PromQL expression asks for."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    e = re.sub(r"\{[^}]*\}", "", e)                         # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                        # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\w+", " ", e)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]?", word):
            continue
        names.add(word)
    return names


def promtool(*args):
    r = subprocess.run(["promtool", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode()


def check_rules():
    tests = sorted(glob.glob(os.path.join(PROM, "*.test.yml")))
    for args in (("check", "rules", RULES), ("test", "rules", *tests)):
        rc, out = promtool(*args)
        if rc != 0:
            raise Invalid(f"promtool {' '.join(args[:2])}: exit {rc}:\n{out}")
        print(f"ok   promtool {args[0]} {args[1]} "
              f"{' '.join(os.path.basename(a) for a in args[2:])}: "
              f"{' '.join(line.strip() for line in out.splitlines() if 'SUCCESS' in line)}")


def check_manifest(render=os.path.join(PROM, "render-prometheusrule")):
    r = subprocess.run([sys.executable, render, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise Invalid(f"PrometheusRule: {r.stdout.decode().strip()}")
    print("ok   deploy/k8s/monitoring/prometheusrule.yaml is render-prometheusrule's output")


def dashboard_exprs(dash):
    out = []
    for p in dash["panels"]:
        for sub in [p, *p.get("panels", [])]:
            out += [(sub["title"], t["expr"]) for t in sub.get("targets", []) if "expr" in t]
    return out


def check_exprs(where, exprs, known, allowed_external=frozenset()):
    for title, expr in exprs:
        unknown = metrics_of(expr) - known - allowed_external
        if unknown:
            raise Invalid(f"{where} {title!r}: {sorted(unknown)} served by no program: {expr}")


def parse_exprs(exprs):
    """promtool parses each expression as a recording rule."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, expr) in enumerate(exprs):
            f.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(expr)}\n")
    try:
        rc, out = promtool("check", "rules", f.name)
    finally:
        os.unlink(f.name)
    if rc != 0:
        raise Invalid(f"dashboard: a query is not valid PromQL:\n{out}")


def check_dashboard(dash, known):
    exprs = dashboard_exprs(dash)
    if not exprs:
        raise Invalid("dashboard: no queries")
    parse_exprs(exprs)
    check_exprs("dashboard panel", exprs, known)
    used = set().union(*(metrics_of(e) for _, e in exprs))
    print(f"ok   dashboard: {len(exprs)} queries parse, ask {len(used)} metrics, all served "
          "by the programs")


def check_rule_metrics(known):
    import yaml  # the project venv's (re-executed below when missing)
    with open(RULES, encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    exprs = [(r["alert"], r["expr"]) for g in groups for r in g["rules"]]
    check_exprs("alert", exprs, known, EXTERNAL)
    print(f"ok   alert rules: {len(exprs)} rules ask only served metrics (and {sorted(EXTERNAL)})")


def checks():
    known = program_metrics()
    print(f"ok   {len(known)} metric names rendered by common/: {' '.join(sorted(known))}")
    check_rules()
    check_manifest()
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    check_dashboard(dash, known)
    check_rule_metrics(known)

    # The checks can fail.
    typo = json.loads(json.dumps(dash))
    typo["panels"][4]["targets"][0]["expr"] = "sum(joytify_consumer_lags)"
    expect_refused("a dashboard query of a metric no program serves",
                   lambda: check_dashboard(typo, known))
    bad = json.loads(json.dumps(dash))
    bad["panels"][4]["targets"][0]["expr"] = "sum(rate(joytify_tasks_total[5m])"
    expect_refused("a dashboard query that is not PromQL", lambda: check_dashboard(bad, known))
    with tempfile.TemporaryDirectory() as tmp:
        # render-prometheusrule against a rules file that differs from the manifest.
        os.makedirs(os.path.join(tmp, "prometheus"))
        os.makedirs(os.path.join(tmp, "k8s", "monitoring"))
        with open(RULES, encoding="utf-8") as f:
            rules = f.read()
        with open(os.path.join(tmp, "prometheus", "joytify-alerts.yml"), "w") as f:
            f.write(rules.replace("for: 15m", "for: 16m", 1))
        shutil.copy(os.path.join(ROOT, "deploy", "k8s", "monitoring", "prometheusrule.yaml"),
                    os.path.join(tmp, "k8s", "monitoring"))
        shutil.copy(os.path.join(PROM, "render-prometheusrule"),
                    os.path.join(tmp, "prometheus"))
        expect_refused("a PrometheusRule older than the rules", lambda: check_manifest(
            os.path.join(tmp, "prometheus", "render-prometheusrule")))


def main():
    try:
        import yaml  # noqa: F401
    except ImportError:
        venv = os.path.join(os.environ.get("JOYTIFY_CACHE_DIR",
                                           os.path.expanduser("~/.cache/joytify")),
                            "venv", "bin", "python")
        if os.path.exists(venv) and sys.executable != venv:
            os.execv(venv, [venv, *sys.argv])
        print("check_prometheus: FAIL: PyYAML is needed (deploy/local/install-deps)")
        return 1
    if not shutil.which("promtool"):
        print("check_prometheus: FAIL: promtool not found: install the prometheus package "
              "(deploy/local/install-deps)")
        return 1
    return verdict("check_prometheus", checks)


if __name__ == "__main__":
    sys.exit(main())
