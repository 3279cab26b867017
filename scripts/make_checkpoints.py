"""Train the lesson models that are shipped as checkpoints and save them under data/checkpoints/.

Run from the repository root with the project's venv (about a minute on 2 CPU
cores): ``.venv/bin/python scripts/make_checkpoints.py``. Training runs on the CPU
from fixed seeds (see ``helpers.checkpoints.SHAPES_GAP_RECIPE``), so the same
machine makes the same weights; tests/test_checkpoints.py checks that a retrained
model reaches the recorded accuracy.
"""

import time

from helpers.checkpoints import CHECKPOINT_DIR, save_shapes_gap, train_shapes_gap

if __name__ == "__main__":
    start = time.perf_counter()
    model, test_accuracy = train_shapes_gap(device="cpu")
    record = save_shapes_gap(model, test_accuracy)
    print(f"shapes GAP model: test accuracy {record['test_accuracy']:.4f}, sha256 {record['sha256'][:12]}..., "
          f"saved in {CHECKPOINT_DIR} ({time.perf_counter() - start:.0f} s)")
