"""Run the lessons' experiments over several seeds and store the results under data/seeds/ (see helpers.seeds).

Run from the repository root with the project's venv, on the CPU (the stored numbers
come from the CPU with two threads; another number of threads trains slightly
different networks, as another seed would): ``.venv/bin/python scripts/run_seeds.py
[canvas] [box_losses] [heads] [rise_shapes] [augmented_views] [box_exercises] [flatten_shift]
[head_exercises] [augmented_exercises] [rise_exercises] [comparison_exercises]``
(canvas: about two minutes on 2 CPU cores, three GAP networks each scored on 12
canvases; box_losses: about seven minutes, nine class + box networks; heads:
about eight minutes, eighteen classifiers; rise_shapes: about ten minutes, RISE
with 300 masks three times and 2,000 once on 200 shapes; augmented_views: about
ten minutes, Augmented Grad-CAM with L = 32 three times and L = 100 once, on 400
shapes and nine photos; box_exercises: about 17 minutes, lesson 01's network in
eight more settings for its exercises, 24 networks, see helpers.exercises.answers;
flatten_shift: about two minutes, three flatten-head networks; head_exercises: about
twenty minutes, lesson 02's heads and a NiN network, 15 trainings per seed, 45 networks; augmented_exercises:
about fifteen minutes, lesson 05's section 6 in seven settings for three seeds of the warps; rise_exercises and
comparison_exercises: lessons 06 and 07's exercises, no training, see helpers.exercises.map_answers for what
they run and the times they took).
Each lesson that loads a file checks that its own run of one seed gives the stored
numbers of that seed.
"""

from tqdm.auto import tqdm

from helpers import seeds
from helpers.exercises import answers, map_answers
from named_runs import run_named


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


def per_seed(name, recipe, run):
    """``run(seed, recipe)`` for every seed of the recipe, stored as ``data/seeds/<name>.json``."""
    return seeds.save(name, recipe, {seed: run(seed, recipe) for seed in tqdm(recipe["seeds"], desc="seeds")})


def heads():
    return per_seed("heads", seeds.HEADS_RECIPE, seeds.head_runs)


def rise_shapes():
    recipe = seeds.RISE_SHAPES_RECIPE
    return seeds.save("rise_shapes", recipe, seeds.rise_shapes_rows(recipe, progress=True))


def augmented_views():
    recipe = seeds.AUGMENTED_RECIPE
    return seeds.save("augmented_views", recipe, {f"L = {views}, warps seed {seed}": seeds.augmented_rows(views, seed, recipe)
                                                  for views, seed in tqdm(recipe["runs"], desc="runs")})


def flatten_shift():
    return per_seed("flatten_shift", seeds.FLATTEN_SHIFT_RECIPE, seeds.flatten_shift_rows)


def head_exercises():
    return per_seed("head_exercises", answers.HEAD_EXERCISE_RECIPE, answers.head_exercise_runs)


def augmented_exercises():
    return per_seed("augmented_exercises", answers.AUGMENTED_EXERCISE_RECIPE, answers.augmented_exercise_rows)


def box_exercises():
    recipe = answers.BOX_EXERCISE_RECIPE
    results = {}
    for seed in tqdm(recipe["seeds"], desc="seeds"):
        results[seed] = {setting: answers.box_exercise_scores(answers.train_box_setting(setting, seed, recipe), recipe)
                         for setting in tqdm(recipe["settings"], desc=f"seed {seed}", leave=False)}
    return seeds.save("box_exercises", recipe, results)


def rise_exercises():
    recipe = map_answers.RISE_EXERCISE_RECIPE
    return seeds.save("rise_exercises", recipe, map_answers.rise_exercise_runs(recipe))


def comparison_exercises():
    recipe = map_answers.COMPARISON_EXERCISE_RECIPE
    return seeds.save("comparison_exercises", recipe, map_answers.comparison_exercise_runs(recipe))


EXPERIMENTS = {"canvas": canvas, "box_losses": box_losses, "heads": heads, "rise_shapes": rise_shapes,
               "augmented_views": augmented_views,
               "box_exercises": box_exercises, "flatten_shift": flatten_shift,
               "head_exercises": head_exercises, "augmented_exercises": augmented_exercises,
               "rise_exercises": rise_exercises, "comparison_exercises": comparison_exercises}

if __name__ == "__main__":
    run_named({name: (lambda job=job: f"written to {job()}") for name, job in EXPERIMENTS.items()}, "experiment")
