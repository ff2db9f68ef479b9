"""Rewrite measured figures in assets/default-model/figures.toml (the file lessons quote
with {fig:KEY}) from a JSON file of measurements, leaving every other table, comment and
field as it is:

    python figures.py runs/ship6/figures.json [--toml ../assets/default-model/figures.toml]

The JSON maps a figure's key to the fields to set, e.g.
    {"kl.app.k4": {"value": 0.387, "how": "moe-tutor eval kl ..."}}
Only `value`, `what`, `how` and `unit` may be set; every key must already exist in the
TOML (a new figure is added by hand, with its unit, scale and source). Prints each change.
"""
import argparse
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = ("value", "what", "how", "unit")


def toml_value(v):
    if isinstance(v, bool):
        raise ValueError("figures are numbers or strings")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(round(v, 6))
    return json.dumps(str(v), ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("measured")
    ap.add_argument("--toml", default=os.path.join(HERE, "..", "assets", "default-model", "figures.toml"))
    a = ap.parse_args()
    wanted = json.load(open(a.measured))
    text = open(a.toml).read()
    # one chunk per [[figure]] table (the text before the first is kept as it is)
    chunks = re.split(r"(?m)^(?=\[\[figure\]\]\n)", text)
    seen = set()
    for i, chunk in enumerate(chunks):
        m = re.search(r'(?m)^key = "([^"]+)"$', chunk)
        if not m or m.group(1) not in wanted:
            continue
        key = m.group(1)
        seen.add(key)
        for field, v in wanted[key].items():
            if field not in FIELDS:
                raise SystemExit(f"{key}: cannot set {field!r} (only {', '.join(FIELDS)})")
            line = f"{field} = {toml_value(v)}"
            pat = re.compile(rf"(?m)^{field} = .*$")
            old = pat.search(chunk)
            if not old:
                raise SystemExit(f"{key}: has no {field} line")
            if old.group(0) != line:
                print(f"{key}: {old.group(0)}  ->  {line}")
                chunk = chunk[: old.start()] + line + chunk[old.end():]
        chunks[i] = chunk
    missing = sorted(set(wanted) - seen)
    if missing:
        raise SystemExit(f"not in {a.toml}: {', '.join(missing)}")
    with open(a.toml, "w") as f:
        f.write("".join(chunks))


if __name__ == "__main__":
    main()
