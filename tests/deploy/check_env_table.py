#!/usr/bin/env python3
"""Checks that the README's configuration table lists exactly the environment variables the
programs read. The names come from the C sources of the programs (common/, producer/, worker/,
notifier/, loadtest/, any depth): the env field of every option-table row ({name, short, TYPE,
default, min, max, ENV, secret, ...}, the rows of common/jt_config.h's jt_opt_t) and every
getenv("NAME"). For each table row the option, the default and the secret column must agree
with the source row. Test hooks (JT_TEST_*) are not configuration: the table leaves them out
and this check ignores them. So that a new way of writing option rows cannot hide a variable,
every "JT_..." or "DISCORD_..." string literal of those sources must be one of the names found,
or the check fails asking to teach it the new form. Every variable of the Kubernetes ConfigMaps
(deploy/k8s, base and overlays) must be one the programs read. A broken copy of each check must
fail.

Usage: check_env_table.py   (offline, no build needed)"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Invalid, expect_refused, verdict  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
K8S = os.path.join(ROOT, "deploy", "k8s")
PROGRAM_DIRS = ("common", "producer", "worker", "notifier", "loadtest")
TEST_HOOK = re.compile(r"^JT_TEST_")
ENV_LIKE = re.compile(r"^(JT|DISCORD)_[A-Z0-9_]+$")
TOKEN = re.compile(
    r'(?P<comment>/\*.*?\*/|//[^\n]*)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<chr>\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9][A-Za-z0-9_.]*)|(?P<punct>\S)",
    re.S,
)


def tokens(text):
    """C tokens without comments; a line continuation is just white space here."""
    out = []
    for m in TOKEN.finditer(text.replace("\\\n", " ")):
        kind = m.lastgroup
        if kind == "comment" or m.group() == "\\":
            continue
        out.append((kind, m.group()))
    return out


def brace_elements(toks, start):
    """The top-level comma-separated elements of the brace group opening at toks[start]."""
    elements, current, depth = [], [], 0
    for kind, text in toks[start + 1:]:
        if text in "({[" and kind == "punct":
            depth += 1
        elif text in ")}]" and kind == "punct":
            if depth == 0:
                elements.append(current)
                return elements
            depth -= 1
        if text == "," and kind == "punct" and depth == 0:
            elements.append(current)
            current = []
        else:
            current.append((kind, text))
    return elements


def literal(element):
    """The value of an element that is one string literal, None for NULL, else False."""
    if len(element) == 1 and element[0][0] == "str":
        return element[0][1][1:-1]
    if len(element) == 1 and element[0][1] == "NULL":
        return None
    return False


def source_variables(files):
    """{name: [{"option", "default", "secret", "where"}]} read by option rows or getenv, and
    the env-like literals the parser could not place."""
    found, literals = {}, {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            toks = tokens(f.read())
        where = os.path.relpath(path, ROOT)
        for i, (kind, text) in enumerate(toks):
            if kind == "str" and ENV_LIKE.match(text[1:-1]):
                literals.setdefault(text[1:-1], where)
            if kind == "id" and text in ("getenv", "secure_getenv") and i + 3 < len(toks) \
                    and toks[i + 1][1] == "(" and toks[i + 2][0] == "str" and toks[i + 3][1] == ")":
                found.setdefault(toks[i + 2][1][1:-1], []).append(
                    {"option": None, "default": None, "secret": False, "where": where})
            if text != "{" or kind != "punct":
                continue
            row = brace_elements(toks, i)
            if len(row) < 8 or len(row[2]) != 1 or not row[2][0][1].startswith("JT_OPT_"):
                continue
            name, default, env = literal(row[0]), literal(row[3]), literal(row[6])
            if not name or env is False or env is None:
                continue
            secret = row[7] == [("id", "true")] or row[2][0][1] == "JT_OPT_ENV"
            found.setdefault(env, []).append(
                {"option": None if row[2][0][1] == "JT_OPT_ENV" else "--" + name,
                 "default": default, "secret": secret, "where": where})
    unplaced = {n: w for n, w in literals.items() if n not in found}
    return found, unplaced


def readme_rows(text):
    """{name: {"option", "default", "secret", "line"}} of the table(s) of ## Configuration."""
    m = re.search(r"^## Configuration\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        raise Invalid("README.md has no '## Configuration' section")
    rows, header = {}, None
    for line in m.group(1).splitlines():
        if not line.startswith("|"):
            header = None if not line.strip() else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: "):
            continue
        if "variable" not in header:
            continue
        row = dict(zip(header, cells))
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row["variable"]):
            rows[name] = {"option": row.get("option", ""), "default": row.get("default", ""),
                          "secret": row.get("secret", ""), "line": line}
    if not rows:
        raise Invalid("README.md's ## Configuration has no table with a 'variable' column")
    return rows


def check(readme_text, found, unplaced):
    problems = []
    for name, where in sorted(unplaced.items()):
        problems.append(f"{name} ({where}) looks like an environment variable but is neither "
                        "the env of an option row nor a getenv argument: teach this check the "
                        "new form, or rename the literal")
    wanted = {n: uses for n, uses in found.items() if not TEST_HOOK.match(n)}
    rows = readme_rows(readme_text)
    for name in sorted(set(wanted) - set(rows)):
        places = ", ".join(sorted({u["where"] for u in wanted[name]}))
        problems.append(f"{name} is read by the programs ({places}) but missing from the "
                        "README's configuration table")
    for name in sorted(set(rows) - set(found)):
        problems.append(f"{name} is in the README's configuration table but no program reads it")
    for name in sorted(set(wanted) & set(rows)):
        row = rows[name]
        for use in wanted[name]:
            option = use["option"] or "(none)"
            if f"`{option}`" not in row["option"] and option not in row["option"]:
                problems.append(f"{name}: option column should name {option} ({use['where']}), "
                                f"actual {row['option']!r}")
            default = use["default"]
            if default is not None and f"`{default}`" not in row["default"]:
                problems.append(f"{name}: default column should show `{default}` "
                                f"({use['where']}), actual {row['default']!r}")
            secret = "yes" if use["secret"] else "no"
            if not row["secret"].lower().startswith(secret):
                problems.append(f"{name}: secret column should say {secret} ({use['where']}), "
                                f"actual {row['secret']!r}")
    if problems:
        raise Invalid(f"{len(problems)} problem(s): " + "\n  ".join(problems))
    names = sorted(wanted)
    hooks = sorted(set(found) - set(wanted))
    print(f"ok   {len(names)} variables read and listed: {' '.join(names)}")
    print(f"ok   test hooks left out of the table: {' '.join(hooks) or '(none)'}")


def configmap_variables():
    """{name: file} of the data keys of every ConfigMap under deploy/k8s."""
    import yaml  # the deploy checks' venv has it (validate_k8s.py)

    found = {}
    for path in sorted(glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
                    for name in doc.get("data") or {}:
                        found.setdefault(name, os.path.relpath(path, ROOT))
    return found


def check_configmaps(configmap, found):
    unread = sorted(f"{n} ({w})" for n, w in configmap.items() if n not in found)
    if unread:
        raise Invalid("the ConfigMap sets variables no program reads: " + ", ".join(unread))
    print(f"ok   {len(configmap)} ConfigMap variables, each read by a program")


def main():
    files = [p for d in PROGRAM_DIRS for ext in ("c", "h")
             for p in glob.glob(os.path.join(ROOT, d, "**", f"*.{ext}"), recursive=True)]
    with open(README, encoding="utf-8") as f:
        text = f.read()

    def checks():
        found, unplaced = source_variables(files)
        if "JT_MONGO_URI" not in found or not any(u["secret"] for u in found["JT_MONGO_URI"]):
            raise Invalid("the option rows were not understood: JT_MONGO_URI (secret) not found")
        check(text, found, unplaced)
        configmap = configmap_variables()
        if "JT_REPLICATION_FACTOR" not in configmap:
            raise Invalid("the ConfigMaps were not understood: JT_REPLICATION_FACTOR not found")
        check_configmaps(configmap, found)
        expect_refused("a ConfigMap with a variable no program reads",
                       lambda: check_configmaps(dict(configmap, JT_NOBODY_READS_THIS="x.yaml"),
                                                found))
        rows = readme_rows(text)
        some = sorted(rows)[0]
        dropped = "\n".join(l for l in text.splitlines() if l != rows[some]["line"])
        expect_refused(f"the README without the row of {some}",
                       lambda: check(dropped, found, unplaced))
        extra = text.replace(rows[some]["line"], rows[some]["line"] + "\n"
                             + rows[some]["line"].replace(some, "JT_NOBODY_READS_THIS"), 1)
        expect_refused("the README with a variable no program reads",
                       lambda: check(extra, found, unplaced))
        odd = dict(found)
        odd_unplaced = dict(unplaced, JT_WRITTEN_SOME_NEW_WAY="a source of another shape")
        expect_refused("a source with an env-like literal the parser cannot place",
                       lambda: check(text, odd, odd_unplaced))

    return verdict("deploy_env_table", checks)


if __name__ == "__main__":
    sys.exit(main())
