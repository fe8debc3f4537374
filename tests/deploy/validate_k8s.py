#!/usr/bin/env python3
"""Validates deploy/k8s/ without a cluster: every Kubernetes object against the API schemas of
kubernetes-validate (PyPI) in strict mode (an unknown field is an error, as with kubectl
--validate=strict), the KEDA ScaledObject against the spec schema of KEDA's CRD
(schemas/keda-scaledobject-v1alpha1.json, strict too), then the fleet's own rules: the
autoscaler targets the worker Deployment, never exceeds the task partitions and scales on the
workers' group and task topics; probes point at the served port; resources cover the measured
RSS; no secret sits in the ConfigMap; every container's command line is accepted by the built
program (`PROGRAM ARGS --help` exits 0). Each check is also shown to fail on a broken copy.

Usage: validate_k8s.py BUILD_DIR   (under the project venv: kubernetes-validate, jsonschema,
PyYAML; deploy/local/install-deps installs them)"""

import copy
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_PY = os.path.join(os.environ.get("JOYTIFY_CACHE_DIR", os.path.expanduser("~/.cache/joytify")),
                       "venv", "bin", "python")
K8S_VERSION = "1.30.0"
MEASURED_RSS_MIB = 18  # worker peak RSS, loadtest at 1,000 users / 500,000 playbacks

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError:
    if os.path.exists(VENV_PY) and sys.executable != VENV_PY:
        os.execv(VENV_PY, [VENV_PY, *sys.argv])
    sys.exit("validate_k8s: FAIL: kubernetes-validate, jsonschema and PyYAML are needed "
             "(deploy/local/install-deps puts them in the project venv)")


class Invalid(Exception):
    pass


def strict(schema):
    """Unknown properties become errors, like kubectl --validate=strict."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and \
                "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas",
                       "keda-scaledobject-v1alpha1.json"), encoding="utf-8") as f:
    KEDA = jsonschema.Draft7Validator(strict(json.load(f)))


def schema_check(doc, where):
    if doc.get("kind") == "ScaledObject":
        errors = sorted(KEDA.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise Invalid(f"{where}: {'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
        return
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(map(str, getattr(e, "path", []) or []))
        raise Invalid(f"{where}: {path or '(top)'}: {getattr(e, 'message', e)}") from None


def mebibytes(q):
    m = re.fullmatch(r"(\d+)(Mi|Gi|M|G)", str(q))
    if not m:
        raise Invalid(f"memory quantity {q!r}: expected NNMi or NNGi")
    n = int(m.group(1))
    return {"Mi": n, "Gi": n * 1024, "M": n * 0.954, "G": n * 954}[m.group(2)]


def by_kind(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if not found:
        raise Invalid(f"expected a {kind}{' ' + name if name else ''}")
    return found


def fleet_rules(docs, build):
    config = by_kind(docs, "ConfigMap", "joytify-config")[0]["data"]
    for secret_key in ("JT_MONGO_URI", "DISCORD_WEBHOOK_URL"):
        if secret_key in config:
            raise Invalid(f"ConfigMap joytify-config: {secret_key} is a secret: it belongs in the Secret")
    partitions = int(config["JT_TASK_PARTITIONS"])
    worker = by_kind(docs, "Deployment", "joytify-worker")[0]
    so = by_kind(docs, "ScaledObject")[0]["spec"]
    if so["scaleTargetRef"]["name"] != worker["metadata"]["name"]:
        raise Invalid(f"ScaledObject targets {so['scaleTargetRef']['name']}, expected joytify-worker")
    if not 1 <= so.get("minReplicaCount", 0) <= so["maxReplicaCount"] <= partitions:
        raise Invalid(f"ScaledObject: expected 1 <= minReplicaCount <= maxReplicaCount <= "
                      f"{partitions} task partitions, actual {so.get('minReplicaCount')}.."
                      f"{so['maxReplicaCount']}")
    topics = set()
    for t in so["triggers"]:
        md = t["metadata"]
        if t["type"] != "kafka" or md.get("consumerGroup") != config["JT_WORKER_GROUP"]:
            raise Invalid(f"trigger {t.get('name')}: expected a kafka trigger on group "
                          f"{config['JT_WORKER_GROUP']}, actual {t['type']} {md.get('consumerGroup')}")
        if not md.get("lagThreshold", "").isdigit() or int(md["lagThreshold"]) < 1:
            raise Invalid(f"trigger {t.get('name')}: lagThreshold must be a positive number")
        if md.get("bootstrapServers") != config["JT_KAFKA_BROKERS"]:
            raise Invalid(f"trigger {t.get('name')}: bootstrapServers differ from JT_KAFKA_BROKERS")
        topics.add(md.get("topic"))
    if topics != {"joytify.tasks.stats", "joytify.tasks.cleanup"}:
        raise Invalid(f"triggers: expected both task topics, actual {sorted(topics)}")

    pod = worker["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args", [])
    addr = args[args.index("--metrics-addr") + 1] if "--metrics-addr" in args else ""
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "metrics")
    if addr != f"0.0.0.0:{port}":
        raise Invalid(f"worker: --metrics-addr {addr!r} must serve the metrics port {port} on all "
                      "addresses (probes come from the kubelet)")
    if c["readinessProbe"]["httpGet"]["path"] != "/readyz":
        raise Invalid("worker: the readiness probe must ask /readyz (the servers' reachability)")
    if c["livenessProbe"]["httpGet"]["path"] != "/livez":
        raise Invalid("worker: the liveness probe must ask /livez (the poll loop's heartbeat)")
    for probe in ("readinessProbe", "livenessProbe"):
        if c[probe]["httpGet"]["port"] not in ("metrics", port):
            raise Invalid(f"worker: the {probe} must ask the metrics port {port}")
    if pod.get("terminationGracePeriodSeconds", 30) < 60:
        raise Invalid("worker: terminationGracePeriodSeconds must give a batch time to end (>= 60)")
    req, lim = c["resources"]["requests"]["memory"], c["resources"]["limits"]["memory"]
    if not MEASURED_RSS_MIB <= mebibytes(req) <= mebibytes(lim) or mebibytes(lim) < 64:
        raise Invalid(f"worker memory: expected request >= the measured {MEASURED_RSS_MIB} MiB "
                      f"and limit >= 64Mi, actual {req}/{lim}")
    for d in by_kind(docs, "Deployment"):
        for ct in d["spec"]["template"]["spec"]["containers"]:
            prog = ct["command"][0]
            exe = {"joytify-worker": "worker", "joytify-producer": "producer",
                   "joytify-notifier": "notifier"}.get(prog)
            if not exe:
                raise Invalid(f"{d['metadata']['name']}: unknown program {prog}")
            argv = [os.path.join(build, exe, prog), *ct.get("args", []), "--help"]
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                raise Invalid(f"{d['metadata']['name']}: {prog} {' '.join(ct.get('args', []))}: "
                              f"refused: {r.stdout.decode().strip()}")


def expect_refused(what, check):
    """The check must refuse a broken copy (so it can fail at all)."""
    try:
        check()
    except Invalid as e:
        print(f"ok   refused {what}: {e}")
        return
    raise Invalid(f"expected {what} to be refused, actual accepted")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    k8s = os.path.join(ROOT, "deploy", "k8s")
    docs = []
    try:
        kust = load(os.path.join(k8s, "kustomization.yaml"))[0]
        files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(k8s, "*.yaml")))
        listed = set(kust["resources"])
        expected = set(files) - {"kustomization.yaml", "secret.example.yaml"}
        if listed != expected:
            raise Invalid(f"kustomization.yaml: resources {sorted(listed)}, files {sorted(expected)}")
        for name in files:
            if name == "kustomization.yaml":
                continue
            for i, doc in enumerate(load(os.path.join(k8s, name))):
                schema_check(doc, f"{name}[{i}] {doc.get('kind')}/{doc['metadata']['name']}")
                docs.append(doc)
                print(f"ok   {name}: {doc['kind']}/{doc['metadata']['name']} ({K8S_VERSION}, strict)")
        fleet_rules(docs, build)
        print("ok   fleet rules: scaling target, max replicas <= partitions, triggers, probes, "
              "memory, secrets, command lines")

        # The checks can fail: broken copies must be refused.
        broken = [
            ("a misspelt Deployment field", "Deployment", lambda d: d["spec"].update(replica=3)),
            ("a misspelt ScaledObject field", "ScaledObject",
             lambda d: d["spec"].update(maxReplicas=3)),
            ("a port that is not a number", "Deployment",
             lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
                 ports=[{"name": "metrics", "containerPort": "nine"}])),
            ("a ScaledObject without triggers", "ScaledObject",
             lambda d: d["spec"].pop("triggers")),
        ]
        for what, kind, mutate in broken:
            doc = copy.deepcopy(next(d for d in docs if d["kind"] == kind))
            mutate(doc)
            expect_refused(what, lambda: schema_check(doc, what))
        rules = [
            ("more replicas than partitions", lambda ds: next(
                d for d in ds if d["kind"] == "ScaledObject")["spec"].update(maxReplicaCount=13)),
            ("liveness asking /metrics", lambda ds: next(
                d for d in ds if d["metadata"]["name"] == "joytify-worker" and
                d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
                ["livenessProbe"]["httpGet"].update(path="/metrics")),
            ("an option the worker does not know", lambda ds: next(
                d for d in ds if d["metadata"]["name"] == "joytify-worker" and
                d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
                .append("--no-such-option")),
        ]
        for what, mutate in rules:
            ds = copy.deepcopy(docs)
            mutate(ds)
            expect_refused(what, lambda: fleet_rules(ds, build))
    except Invalid as e:
        print(f"validate_k8s: FAIL: {e}")
        return 1
    print("validate_k8s: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
