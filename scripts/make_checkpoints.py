"""Train the lesson models that are shipped as checkpoints and save them under data/checkpoints/.

Run from the repository root with the project's venv:
``.venv/bin/python scripts/make_checkpoints.py [shapes_gap] [box_l2] [box_smooth_l1] [box_giou] [flatten_head]``
(all of them when none is named; about three and a half minutes on 2 CPU cores). Training runs on the CPU from
fixed seeds (``helpers.checkpoints.SHAPES_GAP_RECIPE``; the others are seed 0 of an experiment in
``helpers.seeds``, see ``seeds.STORED_NETWORKS``), so the same machine with the same number of threads makes the
same weights. tests/test_checkpoints.py checks that a retrained shapes GAP model reaches the recorded accuracy and
that every other checkpoint scores what its experiment stored for seed 0 in data/seeds/.
"""

from helpers import checkpoints, seeds
from named_runs import run_named


def shapes_gap():
    model, test_accuracy = checkpoints.train_shapes_gap(device="cpu")
    record = checkpoints.save_shapes_gap(model, test_accuracy)
    return f"test accuracy {record['test_accuracy']:.4f}, saved in {checkpoints.CHECKPOINT_DIR}"


def stored(name):
    model, record = seeds.train_stored(name)
    record = checkpoints.save(model, name, record)
    scores = {key: round(value, 3) for key, value in record["scores"].items()}
    return f"seed 0 of {record['experiment']}: {scores}, saved in {checkpoints.CHECKPOINT_DIR}"


MAKERS = {"shapes_gap": shapes_gap, **{name: (lambda name=name: stored(name)) for name in seeds.STORED_NETWORKS}}

if __name__ == "__main__":
    run_named(MAKERS, "checkpoint")
