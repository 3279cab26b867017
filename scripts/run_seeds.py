"""Run the lessons' experiments over several seeds and store the results under data/seeds/ (see helpers.seeds).

Run from the repository root with the project's venv, on the CPU (the stored numbers
come from the CPU): ``.venv/bin/python scripts/run_seeds.py [canvas] [box_losses]``
(canvas: about two minutes on 2 CPU cores, three GAP networks each scored on 12
canvases; box_losses: about seven minutes, nine class + box networks).
Each lesson that loads a file checks that its own run of one seed gives the stored
numbers of that seed.
"""

import sys
import time

from tqdm.auto import tqdm

from helpers import seeds


def canvas():
    recipe = seeds.CANVAS_RECIPE
    results = {}
    for seed in tqdm(recipe["seeds"], desc="seeds"):
        results[seed] = seeds.canvas_accuracies(seeds.train_centred_gap(seed, recipe), recipe)
    return seeds.save("canvas", recipe, results)


def box_losses():
    recipe = seeds.BOX_LOSS_RECIPE
    results = {}
    for seed in tqdm(recipe["seeds"], desc="seeds"):
        results[seed] = {kind: seeds.box_loss_scores(seeds.train_box_model(kind, seed, recipe), recipe)
                         for kind in recipe["weights"]}
    return seeds.save("box_losses", recipe, results)


EXPERIMENTS = {"canvas": canvas, "box_losses": box_losses}

if __name__ == "__main__":
    names = sys.argv[1:] or list(EXPERIMENTS)
    unknown = [name for name in names if name not in EXPERIMENTS]
    if unknown:
        sys.exit(f"unknown experiment(s) {unknown}; known: {list(EXPERIMENTS)}")
    for name in names:
        start = time.perf_counter()
        path = EXPERIMENTS[name]()
        print(f"{name}: written to {path} ({time.perf_counter() - start:.0f} s)")
