"""Fail loudly when torch and torchvision cannot run together (the "torch trap").

A torchvision wheel built for another torch imports, then fails on its first
operator ("operator torchvision::nms does not exist"). Run by the Makefile after
every install.
"""

import sys

try:
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2], keep
except Exception as error:  # any failure here means the pair is broken
    print(f"torch/torchvision check failed: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
print(f"torch {torch.__version__} and torchvision {torchvision.__version__} work together (nms ok)")
