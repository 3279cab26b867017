"""Which feature map a classifier's head reads: Grad-CAM's default layer, and what CAM must check after it.

Grad-CAM (Selvaraju et al., ICCV 2017) explains "the last convolutional layer" and
CAM (Zhou et al., CVPR 2016) the feature map that global average pooling reads. In
both papers that is one thing: the map ``A`` (B, K, h, w) that the classifier head
reads. "The last ``nn.Conv2d``" is not it in most real networks: in VGG it is the
convolution *before* its ReLU, in ResNet a convolution inside the last block
(before its batch norm and the residual sum), in DenseNet one layer's 32 new
channels of the 1,024 that are pooled, in GoogLeNet one branch of the last
inception block.

The rule, read off one forward pass of one image with a hook on every module:

1. A module call *makes* a tensor when the tensor is new, or when the call changed
   it in place (its version counter moved). Dropout and Identity in eval mode pass
   their input on and make nothing; an in-place ReLU makes the tensor it rectifies.
2. *Pooled* maps: the output of a pooling layer, and a 1 x 1 map made from a pooled
   1 x 1 map (a LayerNorm after the global pooling, as in ConvNeXt).
3. The map the head reads is the last 4-D map made that is not pooled. The layer is
   the **last module call that made it**, which is the outermost module that
   returns it after every in-place change: VGG-16's ``features.29`` (the ReLU after
   conv5_3), ResNet's ``layer4``, DenseNet's ``features``, GoogLeNet's
   ``inception5b`` (the concatenation of all branches), timm's EfficientNet ``bn2``
   (batch norm and activation after ``conv_head``). A module that runs more than
   once per pass is passed over for the last one that runs once; if only such
   modules make the map (a ReLU module used twice), the map they were given is taken.
4. Layers over token sequences (3-D inputs) after that map mean the head does not
   read a convolutional feature map (a vision transformer: its patch embedding is
   the last 4-D map): refused.

The answer depends on the model's modules and the image shape only, so it is
cached per model (weakly: the cache never keeps a model alive) and per shape; a
model whose modules change is traced again. Explained in 04_gradcam.
"""

import weakref
from collections import Counter
from typing import NamedTuple

import torch
from torch import nn

#: Layers that pool a map over space; their outputs are never the map a head reads.
POOLING = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
           nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
           nn.LPPool1d, nn.LPPool2d, nn.FractionalMaxPool2d, nn.FractionalMaxPool3d)


class Step(NamedTuple):
    """One module without submodules that runs after the feature map, as the trace saw it."""

    name: str  #: dotted name in the model
    kind: str  #: the module's class name
    input: tuple  #: shape of its first tensor argument (``()`` if none)
    output: tuple  #: shape of its output (``()`` if not a tensor)


class Head(NamedTuple):
    """The feature map a classifier's head reads and the modules that run after it."""

    layer: str  #: dotted name of the module whose output is the map
    shape: tuple  #: (K, h, w) of the map at the traced image size
    after: tuple  #: :class:`Step` of each module without submodules started after the layer, in call order


class _Call(NamedTuple):
    name: str
    module: nn.Module
    start: int
    end: int
    input: object  # the first positional tensor argument, or None
    output: object  # the output if it is a tensor, else None
    makes: bool


def _record(model, image):
    """Every module call of one forward pass, in the order the calls end."""
    calls, entries, clock = [], [], iter(range(1 << 62))

    def before(module, args):
        entries.append((next(clock), [(a, a._version) for a in args if isinstance(a, torch.Tensor)]))

    def after(name):
        def hook(module, args, output):
            start, inputs = entries.pop()
            tensor = output if isinstance(output, torch.Tensor) else None
            makes = tensor is not None and all(tensor is not a or tensor._version != v for a, v in inputs)
            first = args[0] if args and isinstance(args[0], torch.Tensor) else None
            calls.append(_Call(name, module, start, next(clock), first, tensor, makes))
        return hook

    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after(name)))
        with torch.no_grad():
            model(image)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _is_map(tensor):
    return tensor is not None and tensor.dim() == 4


def _find(model, image):
    calls = _record(model, image)
    pooled = set()
    for call in calls:  # in the order the calls end: a map is marked before anything made from it
        if call.makes and _is_map(call.output) and (
                isinstance(call.module, POOLING) or
                (_is_map(call.input) and id(call.input) in pooled and call.input.shape[-2:] == (1, 1)
                 and call.output.shape[-2:] == (1, 1))):
            pooled.add(id(call.output))
    made = [call for call in calls if call.makes and call.name and _is_map(call.output)
            and id(call.output) not in pooled]
    if not made:
        raise ValueError(f"no layer of {type(model).__name__} outputs a (B, K, h, w) feature map: Grad-CAM and CAM "
                         f"here explain the feature maps of convolutional networks")
    target, runs = made[-1].output, Counter(call.name for call in calls)
    while True:  # a module that runs several times per pass cannot be hooked for one map: step back to its input
        makers = [call for call in made if call.output is target]
        once = [call for call in makers if runs[call.name] == 1]
        if once:
            chosen = once[-1]
            break
        target = makers[-1].input
        if not any(call.output is target for call in made):
            raise ValueError(f"the map the head of {type(model).__name__} reads is made by {makers[-1].name!r}, which "
                             f"runs {runs[makers[-1].name]} times per forward pass: pass layer= to choose a layer")
    later = sorted((call for call in calls if call.start > chosen.end and not any(True for _ in call.module.children())),
                   key=lambda call: call.start)
    steps = tuple(Step(call.name, type(call.module).__name__,
                       tuple(call.input.shape) if call.input is not None else (),
                       tuple(call.output.shape) if call.output is not None else ()) for call in later)
    tokens = next((step for step in steps if len(step.input) == 3), None)
    if tokens is not None:
        raise ValueError(f"the last feature map of {type(model).__name__} ({chosen.name!r}, "
                         f"{tuple(target.shape[1:])}) is followed by layers over sequences of tokens ({tokens.name!r} "
                         f"takes a {tokens.input} input), as in a vision transformer: its head does not read a "
                         f"convolutional feature map, and Grad-CAM and CAM here explain convolutional feature maps "
                         f"(pass layer= to explain a given layer anyway)")
    return Head(chosen.name, tuple(target.shape[1:]), steps)


_CACHE = weakref.WeakKeyDictionary()


def find_head(model, images):
    """The :class:`Head` of ``model`` for images shaped like ``images`` (B, C, H, W): see the module's docstring.

    Runs the model once on the first image (no autograd), unless the same model
    with the same modules was traced at this image shape before.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: no module outputs a 4-D map, or token layers follow the last one.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = tuple(id(module) for module in model.modules())
    key = (tuple(images.shape[1:]), images.dtype, images.device.type)
    known = _CACHE.setdefault(model, {})
    if key not in known or known[key][0] != modules:
        known[key] = (modules, _find(model, images[:1]))
    return known[key][1]


def default_layer(model, images):
    """Dotted name of the layer Grad-CAM explains by default: the map ``model``'s head reads (see :func:`find_head`)."""
    return find_head(model, images).layer
