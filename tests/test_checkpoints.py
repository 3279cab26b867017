"""The shipped checkpoints: loadable, what their records say, and reproducible from their seeds."""

import json
import shutil

import pytest
import torch

from helpers import checkpoints, seeds
from helpers.checkpoints import (
    CHECKPOINT_DIR,
    SHAPES_GAP_RECIPE,
    SHAPES_GAP_TOLERANCE,
    load_shapes_gap,
    shapes_gap_record,
    shapes_gap_test_set,
    train_shapes_gap,
)
from helpers.metrics import accuracy
from helpers.models import GapNet
from helpers.train import predict_classes


@pytest.fixture(scope="module")
def test_set():
    return shapes_gap_test_set()


def test_checkpoint_is_a_plain_state_dict_of_the_recorded_recipe():
    record = shapes_gap_record()
    assert record["recipe"] == SHAPES_GAP_RECIPE
    state = torch.load(CHECKPOINT_DIR / "shapes_gap.pt", map_location="cpu", weights_only=True)
    assert set(state) == set(GapNet(6, width=SHAPES_GAP_RECIPE["width"]).state_dict())


def test_loaded_model_scores_the_recorded_accuracy(test_set):
    model = load_shapes_gap()
    assert not model.training
    measured = accuracy(predict_classes(model, test_set.images), test_set.labels)
    assert measured == pytest.approx(shapes_gap_record()["test_accuracy"], abs=0.002)
    assert measured > 0.95


def test_retraining_from_the_seeds_reaches_the_recorded_accuracy():
    """About a minute on 2 CPU cores: the whole recipe, run again."""
    _, retrained = train_shapes_gap(progress=False)
    assert retrained == pytest.approx(shapes_gap_record()["test_accuracy"], abs=SHAPES_GAP_TOLERANCE)


def test_missing_or_altered_checkpoint_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_checkpoints.py"):
        load_shapes_gap(directory=tmp_path)
    shutil.copy(CHECKPOINT_DIR / "shapes_gap.json", tmp_path)
    state = torch.load(CHECKPOINT_DIR / "shapes_gap.pt", weights_only=True)
    state["classifier.bias"] += 1
    torch.save(state, tmp_path / "shapes_gap.pt")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_shapes_gap(directory=tmp_path)
    record = json.loads((tmp_path / "shapes_gap.json").read_text())
    assert record["sha256"] == shapes_gap_record()["sha256"]


@pytest.mark.parametrize("name", seeds.STORED_NETWORKS)
def test_stored_network_scores_what_its_experiment_stored_for_seed_0(name):
    """The checkpoint is seed 0 of its experiment: its scores are that seed's stored results (evaluation only)."""
    record = checkpoints.record(name)
    model = seeds.load_stored(name)
    assert not model.training
    measured = seeds.stored_scores(name, model)
    _, stored = seeds.load(record["experiment"])
    seed_0 = stored[str(record["seed"])]
    expected = ({shift: row["accuracy"] for shift, row in seed_0.items()} if name == "flatten_head"
                else seed_0[name.removeprefix("box_")])
    assert measured == pytest.approx(record["scores"], abs=0.002)
    assert measured == pytest.approx(expected, abs=0.002)
    assert record["recipe"] == getattr(seeds, "FLATTEN_SHIFT_RECIPE" if name == "flatten_head" else "BOX_LOSS_RECIPE")


def test_stored_networks_refuse_an_unknown_name_and_a_wrong_architecture(tmp_path):
    with pytest.raises(ValueError, match="must be one of"):
        seeds.train_stored("box_l1")
    with pytest.raises(ValueError, match="must be one of"):
        seeds.load_stored("box_l1")
    with pytest.raises(RuntimeError, match="state_dict"):  # a GapNet cannot take the flatten head's weights
        checkpoints.load("flatten_head", GapNet(6, width=8))
    with pytest.raises(FileNotFoundError, match="make_checkpoints.py box_l2"):
        checkpoints.load("box_l2", GapNet(6, width=8), directory=tmp_path)
