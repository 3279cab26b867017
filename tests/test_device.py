import random

import numpy as np
import pytest
import torch

from helpers.device import DEVICE_ENV, get_device, set_seed


def test_automatic_choice_follows_cuda(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected


def test_explicit_override_wins(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cuda:7")
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")


def test_environment_override(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_request_without_gpu_is_refused():
    with pytest.raises(ValueError, match="CUDA device"):
        get_device("cuda")


@pytest.mark.parametrize("bad, error", [(3, TypeError), (["cpu"], TypeError), ("banana", ValueError)])
def test_bad_device(bad, error):
    with pytest.raises(error, match="device"):
        get_device(bad)


def test_set_seed_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    set_seed(123)
    first = draw()
    set_seed(123)
    second = draw()
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    set_seed(124)
    assert not torch.equal(draw()[2], first[2])


def test_set_seed_switches_to_deterministic_algorithms():
    set_seed(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32


@pytest.mark.parametrize("bad, error", [(1.0, TypeError), ("0", TypeError), (True, TypeError), (None, TypeError),
                                        (-1, ValueError), (2**32, ValueError)])
def test_bad_seed(bad, error):
    with pytest.raises(error, match="seed"):
        set_seed(bad)
