"""RISE with fewer masks: how many masks each way of drawing and averaging them needs for the same map.

The bar of issue 22: the correlation with an independent many-mask map that the paper's
RISE reaches (0.95), with at most half the masks. For each variant -- the paper's
(independent masks, weighted sum), ``estimator="centred"`` (a control variate) and
``sampling="complementary"`` (pairs M, 1 - M) -- maps from N = 128 ... 2048 masks (seeds 0,
1, 2) are compared with a reference of 8000 paper masks (seed 1000): Pearson correlation per
image, averaged over images and seeds. The masks a variant needs for 0.95 are read off its
curve, interpolated linearly in log N between the two counts that bracket 0.95; reported
per variant with the ratio to the paper's (goal <= 0.5). Where the paper's masks do not reach
0.95 within the counts (the photos on a CPU), the target is the correlation they reach at the
largest count instead, and the ratio's name says so. Then the deletion and insertion AUC
of each variant's maps at N = 512 (no worse than the paper's at equal N is the second half
of the bar). Both tricks together are not a fourth variant: with pairs every pixel is kept
in exactly N / 2 masks, so the centred map is an affine function of the paper's map, and
their correlations with anything are equal.

Shapes: lesson 02's GAP network (the stored checkpoint) on the first 32 test shapes, true
class, 64 x 64, s = 7, p = 0.5, probability scores; this is the CPU part of the issue. The
photos (``--photos``, EfficientNet-Lite0, predicted class) cost 33 ms a mask on 2 CPU
cores, so on the CPU take a few photos and one seed (``--images 2 --seeds 1``).

Writes the table between the ``rise_variance`` markers of ``bench/README.md`` from every
stored run (``--readme`` does only that) and the ratios for ``bench/summary.py``.

Run: ``.venv/bin/python bench/rise_variance.py [--device cpu|cuda] [--images 32] [--seeds 3] [--photos]``.
"""

import argparse
import math
import time

import torch
from timing import record, write_section
from tqdm.auto import tqdm

from helpers import checkpoints, data, metrics, models, rise
from helpers.benchmarks import stored_results
from helpers.device import get_device, set_seed

COUNTS = (128, 256, 512, 1024, 2048)  # doubling, and even: complementary masks come in pairs
EQUAL_N = 512  # where deletion and insertion are compared
VARIANTS = {"paper": {}, "centred": {"estimator": "centred"}, "complementary": {"sampling": "complementary"}}
TARGET = 0.95


def masks_needed(counts, correlations, target=TARGET):
    """The N at which a correlation curve reaches ``target`` (log-linear between counts), or None."""
    for index, (count, value) in enumerate(zip(counts, correlations)):
        if value >= target:
            if index == 0:
                return float(count)
            low, high = correlations[index - 1], value
            fraction = (target - low) / (high - low)
            return math.exp(math.log(counts[index - 1]) + fraction * math.log(count / counts[index - 1]))
    return None


def markdown(result):
    """The README lines of one stored run: its curves, the masks each variant needs, deletion and insertion."""
    target = result.get("target", TARGET)  # runs before the key was stored all reached TARGET
    needed = result["masks_needed"]
    lines = [f"{result['settings']}; {result['machine']}, torch {result['torch']}, {result['date']}.", "",
             "| variant | " + " | ".join(f"N = {n}" for n in result["counts"])
             + f" | masks for {target:.3g} | / paper | deletion AUC at N = {result['equal_n']} | insertion AUC |",
             "|---" * (len(result["counts"]) + 5) + "|"]
    for name, curve in result["correlations"].items():
        found, areas = needed.get(name), result["causal_at_equal_n"][name]
        lines.append(f"| {name} | " + " | ".join(f"{value:.3f}" for value in curve)
                     + f" | {found if found else '> ' + str(result['counts'][-1])} | "
                     + (f"{found / needed['paper']:.2f}" if found and needed.get("paper") else "-")
                     + f" | {areas['deletion']:.4f} | {areas['insertion']:.4f} |")
    return "\n".join(lines)


def write_readme():
    """Rebuild the README's section from every stored run of this script (shapes, then photos)."""
    runs = []
    for bench in ("rise_variance", "rise_variance_photos"):
        try:
            runs += stored_results(bench)
        except FileNotFoundError:  # not run on any machine yet
            pass
    write_section("rise_variance", "\n\n".join(markdown(result) for result in runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="only rebuild bench/README.md's section")
    parser.add_argument("--device", default=None)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--photos", action="store_true", help="the nine photos and EfficientNet-Lite0 instead")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=250)
    args = parser.parse_args()
    if args.readme:
        write_readme()
        return
    set_seed(0)
    device = get_device(args.device)
    if args.photos:
        pretrained = models.imagenet_model(device)
        model, images = pretrained.model, data.load_photos(pretrained.normalization).images[:args.images].to(device)
        with torch.no_grad():
            classes = model(images).argmax(dim=1)
        name = f"{len(images)} photos, EfficientNet-Lite0, predicted class"
    else:
        test = checkpoints.shapes_gap_test_set()
        model, images, classes = checkpoints.load_shapes_gap(device), test.images[:args.images].to(device), \
            test.labels[:args.images].to(device)
        name = f"{len(images)} shapes, lesson 02's GAP network, true class"
    seeds = tuple(range(args.seeds))
    options = {"batch_size": args.batch_size, "progress": False}
    column = classes.view(-1, 1)
    started = time.perf_counter()
    reference = rise.rise(model, images, column, masks=8000, seed=1000, **options).maps[:, 0]
    print(f"{name}; device {device}; reference: 8000 paper masks (seed 1000, "
          f"{time.perf_counter() - started:.0f} s); seeds {seeds}", flush=True)
    curves, at_equal = {}, {}
    with tqdm(total=len(VARIANTS) * len(COUNTS) * len(seeds), desc="RISE maps") as bar:
        for variant, choice in VARIANTS.items():
            curves[variant] = []
            for count in COUNTS:
                runs = []
                for seed in seeds:
                    runs.append(rise.rise(model, images, column, masks=count, seed=seed, **choice,
                                          **options).maps[:, 0])
                    bar.update()
                curves[variant].append(torch.stack([metrics.map_correlation(maps, reference) for maps in runs]).mean().item())
                if count == EQUAL_N:
                    at_equal[variant] = runs
            tqdm.write(f"{variant:14s} mean correlation at N = "
                       + ", ".join(f"{count}: {value:.3f}" for count, value in zip(COUNTS, curves[variant])))
    # the bar's correlation, or (when the paper's masks do not reach it in COUNTS) what they reach at the most
    target = TARGET if curves["paper"][-1] >= TARGET else curves["paper"][-1]
    needed = {variant: masks_needed(COUNTS, curve, target) for variant, curve in curves.items()}
    what = f"{target:.3f} (the paper's at N = {COUNTS[-1]})" if target != TARGET else f"{TARGET}"
    ratios = []
    for variant, found in needed.items():
        print(f"{variant:14s} masks for mean correlation {what}: "
              + (f"{found:.0f}" if found else f"more than {COUNTS[-1]}"))
        if variant != "paper" and found:
            ratios.append((f"RISE masks for correlation {what}: {variant} / paper ({name})",
                           found / needed["paper"], "<= 0.5"))
    causal, step = {}, 224 if args.photos else 64
    for variant, runs in at_equal.items():
        causal[variant] = areas = {
            mode: torch.stack([metrics.causal_curves(model, images, maps, mode, step=step, batch_size=512,
                                                     classes=classes, progress=False).auc
                               for maps in runs]).mean().item()
            for mode in ("deletion", "insertion")}
        print(f"{variant:14s} N = {EQUAL_N}, mean of seeds {seeds}: deletion AUC {areas['deletion']:.4f}, "
              f"insertion AUC {areas['insertion']:.4f}")
    record("rise_variance" + ("_photos" if args.photos else ""), device, ratios,
           f"{name}; N in {COUNTS}, seeds {seeds}, reference 8000 paper masks; s = 7, p = 0.5",
           counts=list(COUNTS), target=round(target, 4), equal_n=EQUAL_N, images=len(images), seeds=len(seeds),
           correlations={variant: [round(v, 4) for v in curve] for variant, curve in curves.items()},
           masks_needed={variant: found and round(found) for variant, found in needed.items()},
           causal_at_equal_n={variant: {mode: round(v, 4) for mode, v in areas.items()}
                              for variant, areas in causal.items()})
    write_readme()


if __name__ == "__main__":
    main()
