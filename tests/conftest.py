"""Fixtures for the unit tests: a non-GUI matplotlib and the (slow to build) ImageNet model, once."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def imagenet():
    from helpers.models import imagenet_model

    return imagenet_model(device="cpu")


@pytest.fixture(scope="session")
def photos(imagenet):
    from helpers.data import load_photos

    return load_photos(imagenet.normalization)
