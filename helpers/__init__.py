"""helpers: the package behind every lesson of "Where CNNs Look".

One module per idea: ``device`` (where tensors live, seeding), ``data``
(cluttered shapes, photos, ImageNet names), ``boxes`` (formats, IoU, GIoU,
box losses), ``models`` (the lesson CNNs, the ImageNet model,
``find_last_conv``), ``train`` (the training loop and the classifier recipe), ``checkpoints`` (trained
lesson models shipped under ``data/``), ``seeds`` (experiments repeated over seeds, stored
under ``data/seeds/``), ``layers`` (the feature map a classifier's head reads: Grad-CAM's default
layer), ``cam`` (class activation maps), ``gradcam``
(Grad-CAM), ``augmented`` (Augmented Grad-CAM), ``rise`` (RISE, from random masks), ``metrics`` (scores,
localization measures, deletion and insertion), ``viz`` (figures), ``widgets`` (sliders) and ``coco`` (photos in COCO format, for
the benchmark on real photos).
"""

from .data import SHAPE_CLASSES, Normalization, Shapes, ShapesDataset, class_index, load_photos, make_shapes
from .device import get_device, set_seed
from .models import Backbone, FlattenNet, GapNet, TwoHeadNet, find_last_conv, imagenet_model

__all__ = [
    "SHAPE_CLASSES",
    "Backbone",
    "FlattenNet",
    "GapNet",
    "Normalization",
    "Shapes",
    "ShapesDataset",
    "TwoHeadNet",
    "class_index",
    "find_last_conv",
    "get_device",
    "imagenet_model",
    "load_photos",
    "make_shapes",
    "set_seed",
]
