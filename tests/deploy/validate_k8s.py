#!/usr/bin/env python3
"""Validates deploy/k8s/ without a cluster: the base (deploy/k8s/base) and the overlays
(deploy/k8s/overlays/*, rendered by kustomize_lite.py, and compared with `kubectl kustomize`
when a kubectl is installed). Every Kubernetes object against the API schemas of
kubernetes-validate (PyPI) in strict mode (an unknown field is an error, as with kubectl
--validate=strict), the custom resources against the spec schemas of their CRDs (schemas/: KEDA's
ScaledObject, the Prometheus Operator's PodMonitor and PrometheusRule; strict too), then the
fleet's own rules: the autoscaler targets the worker Deployment, which has no replicas of its
own, never exceeds the task partitions and scales on the workers' group and task topics, read
from the worker's environment; probes point at the served port; resources cover the measured
RSS; no secret sits in the ConfigMap; no pod mounts a service-account token; one image, set in
base/kustomization.yaml; the disruption budget and the PodMonitor select the right pods; the
PrometheusRule holds deploy/prometheus/joytify-alerts.yml; the topics' replication suits each
overlay; every container's command line is accepted by the built program (`PROGRAM ARGS --help`
exits 0). Each check is also shown to fail on a broken copy.

Usage: validate_k8s.py BUILD_DIR   (under the project venv: kubernetes-validate, jsonschema,
PyYAML; deploy/local/install-deps installs them)"""

import copy
import glob
import json
import os
import re
import shutil
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


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kustomize_lite  # noqa: E402 (needs PyYAML, imported above)
from checklib import Invalid, expect_refused, verdict  # noqa: E402


def crd_validator(name):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", name),
              encoding="utf-8") as f:
        return jsonschema.Draft7Validator(strict(json.load(f)))


CRDS = {"ScaledObject": crd_validator("keda-scaledobject-v1alpha1.json"),
        "PodMonitor": crd_validator("prometheus-operator-podmonitor-v1.json"),
        "PrometheusRule": crd_validator("prometheus-operator-prometheusrule-v1.json")}
IMAGE_PLACEHOLDER = "joytify-fleet"
# What each overlay promises (deploy/k8s/overlays/*/kustomization.yaml says why).
OVERLAYS = {
    "small": {"minReplicaCount": 0, "JT_REPLICATION_FACTOR": "1", "monitoring": False},
    "production": {"minReplicaCount": 1, "JT_REPLICATION_FACTOR": "3",
                   "JT_MIN_INSYNC_REPLICAS": "2", "monitoring": True},
}


def schema_check(doc, where):
    if doc.get("kind") in CRDS:
        errors = sorted(CRDS[doc["kind"]].iter_errors(doc), key=lambda e: list(e.path))
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


def container_env(docs, container):
    """The environment a container gets: its env names and the keys of its envFrom ConfigMaps."""
    names = {e["name"] for e in container.get("env", [])}
    for src in container.get("envFrom", []):
        ref = src.get("configMapRef")
        if ref:
            names |= set(by_kind(docs, "ConfigMap", ref["name"])[0].get("data", {}))
    return names


def selects(match_labels, labels):
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def scaling_rules(docs, config, worker):
    partitions = int(config["JT_TASK_PARTITIONS"])
    so = by_kind(docs, "ScaledObject")[0]["spec"]
    if so["scaleTargetRef"]["name"] != worker["metadata"]["name"]:
        raise Invalid(f"ScaledObject targets {so['scaleTargetRef']['name']}, expected joytify-worker")
    if "replicas" in worker["spec"]:
        raise Invalid("worker Deployment: replicas is set, but KEDA owns the count (every apply "
                      "would reset it)")
    if not 0 <= so.get("minReplicaCount", 0) <= so["maxReplicaCount"] <= partitions:
        raise Invalid(f"ScaledObject: expected 0 <= minReplicaCount <= maxReplicaCount <= "
                      f"{partitions} task partitions, actual {so.get('minReplicaCount')}.."
                      f"{so['maxReplicaCount']}")
    env = container_env(docs, worker["spec"]["template"]["spec"]["containers"][0])
    topics = set()
    for t in so["triggers"]:
        md = t["metadata"]
        if t["type"] != "kafka":
            raise Invalid(f"trigger {t.get('name')}: expected a kafka trigger, actual {t['type']}")
        # The brokers and the group are read from the worker's environment, written once.
        for field, var in (("bootstrapServers", "JT_KAFKA_BROKERS"),
                           ("consumerGroup", "JT_WORKER_GROUP")):
            if field in md or md.get(field + "FromEnv") != var:
                raise Invalid(f"trigger {t.get('name')}: expected {field}FromEnv: {var} (and no "
                              f"{field}), actual {field}={md.get(field)!r} "
                              f"{field}FromEnv={md.get(field + 'FromEnv')!r}")
            if var not in env:
                raise Invalid(f"trigger {t.get('name')}: {var} is not in the worker container's "
                              "environment, where KEDA reads it")
        if not md.get("lagThreshold", "").isdigit() or int(md["lagThreshold"]) < 1:
            raise Invalid(f"trigger {t.get('name')}: lagThreshold must be a positive number")
        topics.add(md.get("topic"))
    if topics != {"joytify.tasks.stats", "joytify.tasks.cleanup"}:
        raise Invalid(f"triggers: expected both task topics, actual {sorted(topics)}")


def topic_rules(config):
    rf, isr = int(config["JT_REPLICATION_FACTOR"]), int(config["JT_MIN_INSYNC_REPLICAS"])
    # min.insync.replicas == replication factor: one broker down stops every write.
    if not 1 <= isr <= rf or (rf > 1 and isr == rf):
        raise Invalid(f"ConfigMap: JT_MIN_INSYNC_REPLICAS {isr} must be 1..{rf} "
                      f"(JT_REPLICATION_FACTOR), and below it when replicated")


def pod_rules(docs, image):
    """No service-account token, one image; the disruption budget and the PodMonitor."""
    pods = {}
    for d in by_kind(docs, "Deployment"):
        pod = d["spec"]["template"]
        pods[d["metadata"]["name"]] = pod
        if pod["spec"].get("automountServiceAccountToken") is not False:
            raise Invalid(f"{d['metadata']['name']}: automountServiceAccountToken must be false "
                          "(no program talks to the Kubernetes API)")
        for c in pod["spec"]["containers"]:
            if c["image"] != image:
                raise Invalid(f"{d['metadata']['name']}: image {c['image']!r}, expected {image!r} "
                              "(the one image of base/kustomization.yaml)")
    pdb = by_kind(docs, "PodDisruptionBudget", "joytify-worker")[0]["spec"]
    if not selects(pdb["selector"].get("matchLabels"), pods["joytify-worker"]["metadata"]["labels"]):
        raise Invalid("PodDisruptionBudget joytify-worker does not select the worker pods")
    if "minAvailable" in pdb or pdb.get("maxUnavailable", 0) < 1:
        raise Invalid("PodDisruptionBudget joytify-worker: expected maxUnavailable >= 1 and no "
                      "minAvailable (a drain must not block on a single or no worker)")
    for pm in [d for d in docs if d["kind"] == "PodMonitor"]:
        ports = {e["port"] for e in pm["spec"]["podMetricsEndpoints"]}
        for name in ("joytify-worker", "joytify-notifier", "joytify-scheduler"):
            pod = pods[name]
            served = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            if not selects(pm["spec"]["selector"].get("matchLabels"), pod["metadata"]["labels"]) \
                    or not ports & served:
                raise Invalid(f"PodMonitor {pm['metadata']['name']} does not scrape {name} "
                              f"(ports {sorted(ports)}, served {sorted(served)})")


def prometheusrule_rules(docs):
    with open(os.path.join(ROOT, "deploy", "prometheus", "joytify-alerts.yml"), encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    for pr in [d for d in docs if d["kind"] == "PrometheusRule"]:
        if pr["spec"]["groups"] != groups:
            raise Invalid(f"PrometheusRule {pr['metadata']['name']} differs from "
                          "deploy/prometheus/joytify-alerts.yml: run "
                          "deploy/prometheus/render-prometheusrule")


def probe_rules(name, pod):
    """The program serves its metrics port on every address, and the kubelet asks /readyz (the
    servers' reachability) and /livez (the loop's heartbeat) there."""
    c = pod["containers"][0]
    args = c.get("args", [])
    addr = args[args.index("--metrics-addr") + 1] if "--metrics-addr" in args else ""
    port = next((p["containerPort"] for p in c.get("ports", []) if p["name"] == "metrics"), None)
    if port is None or addr != f"0.0.0.0:{port}":
        raise Invalid(f"{name}: --metrics-addr {addr!r} must serve the metrics port {port} on all "
                      "addresses (probes come from the kubelet)")
    for probe, path, why in (("readinessProbe", "/readyz", "the servers' reachability"),
                             ("livenessProbe", "/livez", "the poll loop's heartbeat")):
        if c.get(probe, {}).get("httpGet", {}).get("path") != path:
            raise Invalid(f"{name}: the {probe} must ask {path} ({why})")
        if c[probe]["httpGet"]["port"] not in ("metrics", port):
            raise Invalid(f"{name}: the {probe} must ask the metrics port {port}")


def fleet_rules(docs, build, image=IMAGE_PLACEHOLDER):
    config = by_kind(docs, "ConfigMap", "joytify-config")[0]["data"]
    for secret_key in ("JT_MONGO_URI", "DISCORD_WEBHOOK_URL", "JT_APP_API_KEY"):
        if secret_key in config:
            raise Invalid(f"ConfigMap joytify-config: {secret_key} is a secret: it belongs in the Secret")
    worker = by_kind(docs, "Deployment", "joytify-worker")[0]
    scaling_rules(docs, config, worker)
    topic_rules(config)
    pod_rules(docs, image)
    prometheusrule_rules(docs)

    for name in ("joytify-worker", "joytify-notifier", "joytify-scheduler"):
        probe_rules(name, by_kind(docs, "Deployment", name)[0]["spec"]["template"]["spec"])
    pod = worker["spec"]["template"]["spec"]
    c = pod["containers"][0]
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


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def overlay_rules(name, docs):
    want = OVERLAYS[name]
    config = by_kind(docs, "ConfigMap", "joytify-config")[0]["data"]
    so = by_kind(docs, "ScaledObject")[0]["spec"]
    for key in ("JT_REPLICATION_FACTOR", "JT_MIN_INSYNC_REPLICAS"):
        if key in want and config.get(key) != want[key]:
            raise Invalid(f"overlay {name}: {key} {config.get(key)!r}, expected {want[key]!r}")
    if so.get("minReplicaCount", 0) != want["minReplicaCount"]:
        raise Invalid(f"overlay {name}: minReplicaCount {so.get('minReplicaCount')}, expected "
                      f"{want['minReplicaCount']}")
    kinds = {d["kind"] for d in docs}
    if want["monitoring"] != ({"PodMonitor", "PrometheusRule"} <= kinds):
        raise Invalid(f"overlay {name}: PodMonitor and PrometheusRule expected "
                      f"{'present' if want['monitoring'] else 'absent'}, kinds {sorted(kinds)}")


def render(directory):
    """The overlay rendered by kustomize_lite, the same as `kubectl kustomize` where installed."""
    try:
        docs = kustomize_lite.build(directory)
    except kustomize_lite.KustomizeError as e:
        raise Invalid(str(e)) from None
    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", directory], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise Invalid(f"kubectl kustomize {directory}: {r.stderr.decode().strip()}")
        ref = {kustomize_lite.key(d): d for d in yaml.safe_load_all(r.stdout) if d}
        mine = {kustomize_lite.key(d): d for d in docs}
        if ref != mine:
            diff = sorted(str(k) for k in set(ref) | set(mine) if ref.get(k) != mine.get(k))
            raise Invalid(f"{directory}: kustomize_lite and kubectl kustomize differ on {diff}")
    return docs


def check_tree(k8s, build):
    """The base as written, then deploy/k8s and each overlay rendered. Returns {name: docs}."""
    base = os.path.join(k8s, "base")
    top = load(os.path.join(k8s, "kustomization.yaml"))[0]
    if top.get("resources") != ["base"]:
        raise Invalid(f"deploy/k8s/kustomization.yaml: resources {top.get('resources')}, expected [base]")
    kust = load(os.path.join(base, "kustomization.yaml"))[0]
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(base, "*.yaml")))
    listed = set(kust["resources"])
    expected = set(files) - {"kustomization.yaml"}
    if listed != expected:
        raise Invalid(f"base/kustomization.yaml: resources {sorted(listed)}, files {sorted(expected)}")
    images = kust.get("images", [])
    if len(images) != 1 or images[0].get("name") != IMAGE_PLACEHOLDER or "newTag" not in images[0]:
        raise Invalid(f"base/kustomization.yaml: expected one image {IMAGE_PLACEHOLDER} with "
                      f"newName and newTag, actual {images}")
    image = f"{images[0]['newName']}:{images[0]['newTag']}"
    docs = []
    for name in files:
        if name == "kustomization.yaml":
            continue
        for i, doc in enumerate(load(os.path.join(base, name))):
            schema_check(doc, f"{name}[{i}] {doc.get('kind')}/{doc['metadata']['name']}")
            docs.append(doc)
            print(f"ok   base/{name}: {doc['kind']}/{doc['metadata']['name']} ({K8S_VERSION}, strict)")
    for i, doc in enumerate(load(os.path.join(k8s, "secret.example.yaml"))):
        schema_check(doc, f"secret.example.yaml[{i}]")
        print(f"ok   secret.example.yaml: {doc['kind']}/{doc['metadata']['name']} ({K8S_VERSION}, strict)")
    fleet_rules(docs, build)
    print("ok   fleet rules: scaling target, no worker replicas, max replicas <= partitions, "
          "triggers from the environment, probes, memory, secrets, tokens, image, budget, "
          "command lines")
    rendered = {"base": docs}
    overlays = sorted(os.path.basename(p) for p in glob.glob(os.path.join(k8s, "overlays", "*")))
    if overlays != sorted(OVERLAYS):
        raise Invalid(f"overlays {overlays}, expected {sorted(OVERLAYS)}")
    for name in [".", *overlays]:
        directory = os.path.join(k8s, "overlays", name) if name != "." else k8s
        docs = render(directory)
        for i, doc in enumerate(docs):
            schema_check(doc, f"{name}[{i}] {doc.get('kind')}/{doc['metadata']['name']}")
        fleet_rules(docs, build, image)
        if name != ".":
            overlay_rules(name, docs)
            rendered[name] = docs
        print(f"ok   {'deploy/k8s' if name == '.' else 'overlays/' + name} rendered "
              f"({'compared with kubectl kustomize' if shutil.which('kubectl') else 'kustomize_lite; no kubectl to compare with'}): "
              f"{len(docs)} objects, schemas and fleet rules")
    return rendered


def first(docs, kind, name=None):
    return by_kind(docs, kind, name)[0]


def worker_container(ds):
    return first(ds, "Deployment", "joytify-worker")["spec"]["template"]["spec"]["containers"][0]


def checks(build):
    k8s = os.path.join(ROOT, "deploy", "k8s")
    rendered = check_tree(k8s, build)
    prod = rendered["production"]
    image = worker_container(prod)["image"]

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
        ("a misspelt PodMonitor field", "PodMonitor",
         lambda d: d["spec"].update(podMetricEndpoints=[])),
        ("a PrometheusRule rule without expr", "PrometheusRule",
         lambda d: d["spec"]["groups"][0]["rules"][0].pop("expr")),
    ]
    for what, kind, mutate in broken:
        doc = copy.deepcopy(next(d for d in prod if d["kind"] == kind))
        mutate(doc)
        expect_refused(what, lambda: schema_check(doc, what))
    trigger = lambda ds: first(ds, "ScaledObject")["spec"]["triggers"][0]["metadata"]  # noqa: E731
    config = lambda ds: first(ds, "ConfigMap", "joytify-config")["data"]  # noqa: E731
    rules = [
        ("more replicas than partitions",
         lambda ds: first(ds, "ScaledObject")["spec"].update(maxReplicaCount=13)),
        ("replicas on the worker Deployment",
         lambda ds: first(ds, "Deployment", "joytify-worker")["spec"].update(replicas=2)),
        ("liveness asking /metrics",
         lambda ds: worker_container(ds)["livenessProbe"]["httpGet"].update(path="/metrics")),
        ("a notifier without a readiness probe",
         lambda ds: first(ds, "Deployment", "joytify-notifier")["spec"]["template"]["spec"]
         ["containers"][0].pop("readinessProbe")),
        ("a scheduler serving its probes on 127.0.0.1",
         lambda ds: first(ds, "Deployment", "joytify-scheduler")["spec"]["template"]["spec"]
         ["containers"][0].update(args=["schedule", "--metrics-addr", "127.0.0.1:9100"])),
        ("a scheduler liveness asking /readyz",
         lambda ds: first(ds, "Deployment", "joytify-scheduler")["spec"]["template"]["spec"]
         ["containers"][0]["livenessProbe"]["httpGet"].update(path="/readyz")),
        ("an option the worker does not know",
         lambda ds: worker_container(ds)["args"].append("--no-such-option")),
        ("brokers written in the trigger",
         lambda ds: trigger(ds).update(bootstrapServers=config(ds)["JT_KAFKA_BROKERS"])),
        ("a worker environment without the brokers KEDA reads",
         lambda ds: config(ds).pop("JT_KAFKA_BROKERS")),
        ("a pod with a service-account token",
         lambda ds: first(ds, "Deployment", "joytify-scheduler")["spec"]["template"]["spec"]
         .update(automountServiceAccountToken=True)),
        ("a second image",
         lambda ds: first(ds, "Deployment", "joytify-notifier")["spec"]["template"]["spec"]
         ["containers"][0].update(image=image + "-debug")),
        ("a budget selecting no worker",
         lambda ds: first(ds, "PodDisruptionBudget")["spec"]["selector"].update(
             matchLabels={"app.kubernetes.io/name": "worker"})),
        ("a budget with minAvailable 1",
         lambda ds: first(ds, "PodDisruptionBudget")["spec"].update(minAvailable=1)),
        ("min.insync.replicas equal to the replication factor",
         lambda ds: config(ds).update(JT_MIN_INSYNC_REPLICAS=config(ds)["JT_REPLICATION_FACTOR"])),
        ("a PodMonitor on another port",
         lambda ds: first(ds, "PodMonitor")["spec"]["podMetricsEndpoints"][0].update(port="web")),
        ("a PrometheusRule drifted from joytify-alerts.yml",
         lambda ds: first(ds, "PrometheusRule")["spec"]["groups"][0]["rules"].pop()),
    ]
    for what, mutate in rules:
        ds = copy.deepcopy(prod)
        mutate(ds)
        expect_refused(what, lambda: fleet_rules(ds, build, image))
    for what, mutate in [
        ("production with single-replica topics",
         lambda ds: config(ds).update(JT_REPLICATION_FACTOR="1", JT_MIN_INSYNC_REPLICAS="1")),
        ("production without a warm worker",
         lambda ds: first(ds, "ScaledObject")["spec"].update(minReplicaCount=0)),
    ]:
        ds = copy.deepcopy(prod)
        mutate(ds)
        expect_refused(what, lambda: overlay_rules("production", ds))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    return verdict("validate_k8s", lambda: checks(build))


if __name__ == "__main__":
    sys.exit(main())
