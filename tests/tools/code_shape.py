#!/usr/bin/env python3
"""The shape rules of the production C (common/ producer/ worker/ notifier/ loadtest/), checked
so that they hold after the next change too (docs/ARCHITECTURE.md, "Conventions"):

- no .c file longer than 700 lines;
- no function longer than 80 lines (from the line of its opening brace to its closing brace);
- every non-static function named jt_<module>_<verb>: the module is the file's name without
  jt_, or in a program directory also jt_<dir>_<file> (worker/loop.c: jt_worker_loop_...);
  main.c is exempt;
- every .c and .h file opens with a comment that says what it is for.

Usage: code_shape.py REPO_ROOT [--self-test]. Exit 0 when every rule holds, 1 naming each
breach. The house style (clang-format) puts a function's return type, name and opening brace on
one line, which is what the function finder relies on.
"""
import os
import re
import sys
import tempfile

DIRS = ("common", "producer", "worker", "notifier", "loadtest")
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 80


def functions(lines):
    """Yields (name, first_line, length) of every function definition at column 0."""
    i = 0
    while i < len(lines):
        line = lines[i]
        starts = (line and not line[0].isspace() and "(" in line
                  and not line.startswith(("#", "/", "*", "}", "typedef", "struct", "enum", "union"))
                  and not line.rstrip().endswith((";", ","))
                  and "=" not in line.split("(")[0])
        if starts:
            name = re.search(r"(\w+)\s*\(", line)
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith(("{", ";")):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith("{"):
                k = j + 1
                while k < len(lines) and not lines[k].startswith("}"):
                    k += 1
                yield (name.group(1) if name else "?", i + 1, line.startswith("static"),
                       k - j + 1)
                i = k
        i += 1


def check_file(path, rel):
    breaches = []
    text = open(path, errors="replace").read()
    lines = text.split("\n")
    if not text.lstrip().startswith("/*") or not text.startswith("/*"):
        breaches.append(f"{rel}:1: does not open with a comment saying what it is for")
    if not path.endswith(".c"):
        return breaches
    if len(lines) - 1 > MAX_FILE_LINES:
        breaches.append(f"{rel}: {len(lines) - 1} lines, more than {MAX_FILE_LINES}")
    base = os.path.basename(path)[:-2]
    module = base[3:] if base.startswith("jt_") else base
    directory = os.path.basename(os.path.dirname(path))
    prefixes = ("jt_" + module, "jt_" + directory + "_" + module)
    for name, first, static, length in functions(lines):
        if length > MAX_FUNCTION_LINES:
            breaches.append(f"{rel}:{first}: {name} is {length} lines, more than "
                            f"{MAX_FUNCTION_LINES}")
        if not static and base != "main" and not any(
                name == p or name.startswith(p + "_") for p in prefixes):
            breaches.append(f"{rel}:{first}: {name} is not named {prefixes[0]}_... "
                            f"(or {prefixes[1]}_...)")
    return breaches


def check_tree(root):
    breaches = []
    for d in DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    path = os.path.join(dirpath, n)
                    breaches += check_file(path, os.path.relpath(path, root))
    return breaches


def self_test():
    """The checker must catch each breach it claims to."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "worker"))
        body = "\n".join("        x++;" for _ in range(80))
        with open(os.path.join(root, "worker", "loop.c"), "w") as f:
            f.write("int no_comment(void) {\n" + body + "\n}\n")
        found = check_tree(root)
        wanted = ["does not open with a comment", "is 82 lines", "is not named jt_loop_"]
        missing = [w for w in wanted if not any(w in b for b in found)]
        if missing:
            print("code_shape self-test: not caught: " + ", ".join(missing))
            return False
        with open(os.path.join(root, "worker", "loop.c"), "w") as f:
            f.write("/* ok */\nint jt_worker_loop_run(void) {\n        return 0;\n}\n" +
                    "\n".join("/* filler */" for _ in range(700)) + "\n")
        found = check_tree(root)
        if len(found) != 1 or "more than 700" not in found[0]:
            print(f"code_shape self-test: expected only the file-length breach, got {found}")
            return False
    return True


def main():
    if len(sys.argv) < 2:
        print("usage: code_shape.py REPO_ROOT [--self-test]", file=sys.stderr)
        return 2
    if "--self-test" in sys.argv and not self_test():
        return 1
    breaches = check_tree(sys.argv[1])
    for b in breaches:
        print("FAIL " + b)
    print(f"code_shape: {len(breaches)} breach(es) of the shape rules in {', '.join(DIRS)}")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
