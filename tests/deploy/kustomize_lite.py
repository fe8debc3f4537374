"""Renders a kustomization the way `kubectl kustomize` does, for the features deploy/k8s uses:
`resources` (files and directories), `patches` given by `path` (strategic merge: maps merged,
`null` deletes, the lists Kubernetes merges by key merged by that key in built-in kinds, other
lists replaced, as kustomize does for custom resources) and `images` (newName, newTag, digest).
Any other field is refused, so that a kustomization using more fails here instead of being
rendered wrongly. Debian 12 ships no kustomize (its kubectl is 1.20, before overlays outside
the base's tree were usual): tests/deploy/validate_k8s.py renders the overlays with this and
compares with `kubectl kustomize` where one is installed."""

import copy
import os

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "images"}
# The merge keys of the lists a patch of a built-in kind may touch (Kubernetes' patchMergeKey).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name"}
BUILTIN_GROUPS = {"v1", "apps/v1", "policy/v1", "batch/v1", "networking.k8s.io/v1",
                  "autoscaling/v2", "rbac.authorization.k8s.io/v1"}


class KustomizeError(Exception):
    pass


def _load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def key(doc):
    md = doc.get("metadata", {})
    return (doc.get("kind"), md.get("namespace"), md.get("name"))


def _merge(base, patch, builtin):
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v, builtin)
        elif (isinstance(v, list) and builtin and k in MERGE_KEYS and
              isinstance(base.get(k), list)):
            mk = MERGE_KEYS[k]
            for item in v:
                old = next((b for b in base[k] if b.get(mk) == item.get(mk)), None)
                if old is None:
                    base[k].append(copy.deepcopy(item))
                else:
                    _merge(old, item, builtin)
        else:
            base[k] = copy.deepcopy(v)


def _set_images(docs, images):
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", spec) if isinstance(spec, dict) else {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            name = c.get("image", "")
            bare = name.split("@")[0]
            if ":" in bare.rsplit("/", 1)[-1]:
                bare = bare[:bare.rindex(":")]
            for img in images:
                if img["name"] != bare:
                    continue
                unknown = set(img) - {"name", "newName", "newTag", "digest"}
                if unknown:
                    raise KustomizeError(f"images: unsupported {sorted(unknown)}")
                new = img.get("newName", bare)
                if "digest" in img:
                    new += "@" + img["digest"]
                elif "newTag" in img:
                    new += ":" + str(img["newTag"])
                c["image"] = new


def build(directory):
    """The documents `kubectl kustomize directory` prints (in file order, not kustomize's)."""
    path = os.path.join(directory, "kustomization.yaml")
    if not os.path.exists(path):
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    k = _load_all(path)[0]
    unknown = set(k) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{path}: unsupported fields {sorted(unknown)}")
    docs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(directory, r))
        docs += build(p) if os.path.isdir(p) else _load_all(p)
    seen = set()
    for d in docs:
        if key(d) in seen:
            raise KustomizeError(f"{path}: {key(d)} appears twice")
        seen.add(key(d))
    for p in k.get("patches", []):
        if set(p) != {"path"}:
            raise KustomizeError(f"{path}: only patches given by path are supported, got {p}")
        for patch in _load_all(os.path.join(directory, p["path"])):
            target = next((d for d in docs if key(d) == key(patch)), None)
            if target is None:
                raise KustomizeError(f"{path}: patch {p['path']}: no resource {key(patch)}")
            _merge(target, patch, patch.get("apiVersion") in BUILTIN_GROUPS)
    _set_images(docs, k.get("images", []))
    return docs
