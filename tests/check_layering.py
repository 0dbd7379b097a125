#!/usr/bin/env python3
"""The library's layering, checked: every #include in src/ and include/maxact/ must name a header
of the file's own layer or of a layer it depends on (transitively), as the maxact_layer() calls
in src/CMakeLists.txt declare them. An upward include (model including the engine's scan.h)
fails here, naming the file and line.

  check_layering.py REPO_ROOT
"""
import os
import re
import sys


def parse_layers(cmake_text):
    layers = {}
    for m in re.finditer(r"maxact_layer\((\w+)(.*?)\)\n", cmake_text, re.S):
        name, body = m.group(1), m.group(2)
        parts = {"HEADERS": [], "SOURCES": [], "DEPENDS": [], "LIBS": []}
        key = None
        for tok in body.split():
            if tok in parts:
                key = tok
            elif key:
                parts[key].append(tok)
        layers[name] = parts
    return layers


def closure(layers, name, seen=None):
    seen = set() if seen is None else seen
    for d in layers[name]["DEPENDS"]:
        if d not in layers:
            raise SystemExit(f"src/CMakeLists.txt: layer {name} depends on unknown layer {d}")
        if d not in seen:
            seen.add(d)
            closure(layers, d, seen)
    return seen


def main():
    root = sys.argv[1]
    layers = parse_layers(open(os.path.join(root, "src", "CMakeLists.txt")).read())
    owner = {}  # "maxact/x.h" or "dir/x.h" -> layer
    for name, p in layers.items():
        for h in p["HEADERS"]:
            owner["maxact/" + h] = name
        for s in p["SOURCES"]:
            owner.setdefault("dir:" + s.split("/")[0], name)
    errors = []
    inc_dir = os.path.join(root, "include", "maxact")
    for h in sorted(os.listdir(inc_dir)):
        if "maxact/" + h not in owner:
            errors.append(f"include/maxact/{h}: owned by no layer (add it to a HEADERS list)")
    files = [os.path.join(inc_dir, h) for h in sorted(os.listdir(inc_dir))]
    for d, _, names in sorted(os.walk(os.path.join(root, "src"))):
        files += [os.path.join(d, n) for n in sorted(names) if n.endswith((".cpp", ".h"))]
    checked = 0
    for path in files:
        rel = os.path.relpath(path, root)
        if rel.startswith("include/"):
            layer = owner.get("maxact/" + os.path.basename(rel))
        else:
            layer = owner.get("dir:" + rel.split("/")[1])
        if layer is None:
            errors.append(f"{rel}: in no layer's folder")
            continue
        allowed = closure(layers, layer) | {layer}
        for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            target = owner.get(inc) if inc.startswith("maxact/") else owner.get(
                "dir:" + inc.split("/")[0])
            checked += 1
            if target is None:
                errors.append(f"{rel}:{lineno}: includes {inc}, which no layer owns")
            elif target not in allowed:
                errors.append(f"{rel}:{lineno}: layer {layer} includes {inc} of layer {target}, "
                              f"which {layer} does not depend on")
    for e in errors:
        print(e)
    print(f"{checked} includes in {len(files)} files over {len(layers)} layers: "
          f"{len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
