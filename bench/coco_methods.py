"""Every map of the course scored on real photos: the 156 freely licensed COCO photos of ``../shared/data/coco-free``.

Not a speed ratio: this script measures how well each method localizes objects on
photos where objects are small and many (lesson 07's nine photos are too easy: a
random map scores well there). For each photo with an object of a COCO category that
has ImageNet counterparts (``helpers.coco.IMAGENET_CLASSES``), EfficientNet-Lite0
explains the best-scoring ImageNet class of its largest such object; the ground truth
is every box and the union of the masks of that category. Methods: CAM, Grad-CAM,
Augmented Grad-CAM, RISE, lesson 05's warped-view baselines (max and mean), the centre
Gaussian and the random map. Metrics: MaxBoxAcc, MaxBoxAccV2, PxAP, the pointing game,
deletion and insertion AUC (of the explained class), seconds per image; also the rows
of the smaller and the larger half of the targets (box metrics only), and every method's
values image by image (for paired bootstrap intervals).

Two settings: ``cpu`` (what 2 CPU cores afford in about an hour: Augmented Grad-CAM
with L = 16 views, RISE with N = 300 masks, deletion and insertion in 16 steps of
3,136 pixels) and ``paper`` (L = 32, N = 8,000, steps of 224 pixels: for a GPU).
The file ``bench/results/coco_methods--<machine>.json`` keeps the rows, the settings,
the run time and, for the test, CAM's and Grad-CAM's rows on the first five images;
``bench/README.md`` gets the table between its ``coco_methods`` markers.

Run: ``.venv/bin/python bench/coco_methods.py [--settings cpu|paper] [--device cpu|cuda] [--limit N]
[--cache FILE]`` (``--limit`` scores only the first N photos and records nothing: a quick try).
"""

import argparse
import datetime
import json
import time
from pathlib import Path

import torch
from timing import RESULTS, machine, result_path, write_section

from helpers import coco, compare, models
from helpers.device import get_device, set_seed

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-free"
COMMON = {"layer": "conv_head", "seed": 0}  # Grad-CAM at the last convolution, as lesson 07 does on photos
SETTINGS = {"cpu": {"views": 16, "masks": 300, "step": 3136}, "paper": {"views": 32, "masks": 8000, "step": 224}}
CHECKED = 5  # images whose CAM and Grad-CAM rows tests/test_coco.py recomputes
METRICS = ("MaxBoxAcc", "MaxBoxAccV2", "PxAP", "pointing game", "deletion AUC", "insertion AUC", "s / image")


def rounded(rows):
    return [{key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}
            for row in rows]


def markdown(result):
    """The README table of one stored result."""
    settings = result["settings"]
    lines = [f"{result['images']} photos, {result['machine']}, torch {result['torch']}, {result['date']}; "
             f"L = {settings['views']}, N = {settings['masks']}, {settings['step']} pixels per deletion/insertion "
             f"step; run time {result['seconds'] / 60:.0f} min. Deletion: lower is better.", "",
             "| method | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for row in result["rows"]:
        cells = [f"{row[m]:.3f}" if m != "s / image" else f"{row[m]:.2f}" for m in METRICS]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    for half, rows in result["halves"].items():
        lines += ["", f"{half}: MaxBoxAcc / MaxBoxAccV2 / PxAP / pointing game", ""]
        lines += [f"- {row['method']}: " + " / ".join(f"{row[m]:.3f}" for m in METRICS[:4]) for row in rows]
    return "\n".join(lines)


def write_readme(results):
    write_section("coco_methods", "\n\n".join(markdown(result) for result in results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="cpu")
    parser.add_argument("--device", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="keep the maps here and reuse them")
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} is not here: this benchmark needs ../shared/data/coco-free")
    set_seed(0)
    started = time.perf_counter()
    device = get_device(args.device)
    settings = {**COMMON, **SETTINGS[args.settings]}
    step, options = settings["step"], {k: v for k, v in settings.items() if k != "step"}
    pretrained = models.imagenet_model(device)
    chosen = coco.explanation_set(FOLDER, pretrained.model, pretrained.normalization, device)
    if args.limit is not None:
        chosen = coco.ExplanationSet(*(field[:args.limit] for field in chosen))
    model, images, classes = pretrained.model, chosen.images, chosen.classes
    with torch.no_grad():
        top = torch.cat([model(part) for part in images.split(32)]).argmax(dim=1)
    print(f"{len(chosen.files)} photos with a target; the explained class is the model's top-1 in "
          f"{(top == classes).float().mean().item():.3f} of them")
    key = {"settings": settings, "files": chosen.files}
    if args.cache is not None and args.cache.is_file() and torch.load(args.cache)["key"] == key:
        explained = {m: compare.Timed(*t) for m, t in torch.load(args.cache)["explained"].items()}
    else:
        explained = compare.explain_all(model, images, classes, compare.ALL_METHODS, batch_size=2, **options)
        if args.cache is not None:
            torch.save({"key": key, "explained": {m: tuple(t) for m, t in explained.items()}}, args.cache)
    per_image = {}
    rows = compare.score(model, images, chosen.boxes, chosen.masks, explained, step=step, classes=classes,
                         per_image=per_image)
    # the target is its category's largest box (padding repeats a box, which changes no maximum)
    area = torch.stack([(b[:, 2:] - b[:, :2]).prod(dim=1).max() for b in chosen.boxes]) / images.shape[-1] ** 2
    small = coco.smaller_half(area)
    halves = {}
    for name, part in ((f"smaller half (target box < {area[~small].min().item():.3f} of the image)", small),
                       ("larger half", ~small)):
        subset = {m: compare.Timed(t.maps[part], t.seconds_per_image) for m, t in explained.items()}
        halves[name] = rounded(compare.score(model, images[part], chosen.boxes[part], chosen.masks[part], subset,
                                             causal=False, progress=False))
    first = slice(0, CHECKED)
    checked = compare.score(model, images[first], chosen.boxes[first], chosen.masks[first],
                            {m: compare.Timed(explained[m].maps[first], 0.0) for m in ("CAM", "Grad-CAM")},
                            step=step, classes=classes[first], progress=False)
    result = {"bench": "coco_methods", "machine": machine(device), "device": device.type, "torch": torch.__version__,
              "date": datetime.date.today().isoformat(), "settings": settings, "settings name": args.settings,
              "images": len(chosen.files), "top-1 share": round((top == classes).float().mean().item(), 4),
              "median target area": round(area.median().item(), 4), "seconds": round(time.perf_counter() - started),
              "source": "measured by this script", "rows": rounded(rows), "halves": halves,
              "per image": {m: {k: [round(x, 4) for x in v.tolist()] for k, v in values.items()}
                            for m, values in per_image.items()}, "files": chosen.files,
              "target area": [round(x, 4) for x in area.tolist()],
              "check": {"ids": chosen.ids[first], "files": chosen.files[first], "classes": classes[first].tolist(),
                        "rows": rounded(checked)}}
    text = json.dumps(result, indent=1) + "\n"
    print(markdown(result))
    if args.limit is not None:
        return
    path = result_path("coco_methods", result["machine"])
    path.write_text(text)
    write_readme([json.loads(p.read_text()) for p in sorted(RESULTS.glob("coco_methods--*.json"))])
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
