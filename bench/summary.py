"""Every speed ratio measured in bench/, in one table: the top of bench/README.md.

Each speed script (cam_speed, gradcam_speed, augmented_speed, rise_speed, rise_variance, input_checks, layout,
box_metrics) writes its ratios to ``bench/results/<script>--<machine>.json`` when it runs
(``rise_variance --photos`` to ``rise_variance_photos--<machine>.json``); this script reads
them all and rewrites the table between the ``summary`` markers of bench/README.md.
With ``--run`` it first runs every speed script on this machine (about half an hour on 2
CPU cores, most of it RISE; a few minutes on a GPU), which replaces this machine's files.

    .venv/bin/python bench/summary.py [--run] [--device cpu|cuda]
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
SCRIPTS = ("cam_speed", "gradcam_speed", "augmented_speed", "rise_speed", "rise_variance", "input_checks", "layout",
           "box_metrics")
RESULTS = SCRIPTS[:5] + ("rise_variance_photos",) + SCRIPTS[5:]  # the names of the result files, in table order
BEGIN, END = "<!-- summary: begin (made by bench/summary.py) -->", "<!-- summary: end -->"


def met(value, goal, device):
    """"yes" / "no" for a goal such as "<= 1.1" or ">= 2 (GPU)"; "-" where there is none or it is for another device."""
    found = re.match(r"\s*(<=|>=)\s*([0-9.]+)", goal)
    if not found or ("(GPU)" in goal and device != "cuda"):
        return "-"
    bound = float(found.group(2))
    return "yes" if (value <= bound if found.group(1) == "<=" else value >= bound) else "**no**"


def table(results):
    lines = ["| comparison | ratio | goal | met | machine | torch | measured | settings | source |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = {name: i for i, name in enumerate(RESULTS)}
    for result in sorted(results, key=lambda r: (order.get(r["bench"], 99), r["device"] != "cpu", r["machine"])):
        for ratio in result["ratios"]:
            value = f"{ratio['value']:.3f}" if ratio["value"] < 10 else f"{ratio['value']:.0f}"
            lines.append(f"| {ratio['comparison']} | {value} | {ratio['goal']} | "
                         f"{met(ratio['value'], ratio['goal'], result['device'])} | {result['machine']} | "
                         f"{result['torch']} | {result['date']} | {result['settings']} | {result['source']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run every speed script on this machine first")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.run:
        for script in SCRIPTS:
            command = [sys.executable, str(HERE / f"{script}.py")] + (["--device", args.device] if args.device else [])
            print("running", " ".join(command), flush=True)
            subprocess.run(command, check=True)
    results = [json.loads(path.read_text()) for path in sorted((HERE / "results").glob("*.json"))
               if path.name.split("--")[0] in RESULTS]  # coco_methods scores maps: its table is its own
    if not results:
        sys.exit("no results in bench/results/: run a speed script, or this script with --run")
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"bench/README.md lacks the markers {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{table(results)}\n{END}{tail}")
    print(f"bench/README.md: {sum(len(r['ratios']) for r in results)} ratios from {len(results)} result files")


if __name__ == "__main__":
    main()
