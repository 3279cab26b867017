"""What the box metrics cost: MaxBoxAcc's connected components with OpenCV against the former scipy labelling.

``helpers.metrics.box_scores`` labels the kept pixels of every map at each of 100
thresholds. Until issue 19 it used ``scipy.ndimage.label`` on the (N, H, W) volume
and ``find_objects`` for the boxes; now OpenCV labels the masks stacked into one
image and returns boxes and sizes in the same pass. Times, in one run and
interleaved, ``box_scores`` of the same maps with each labelling (the scipy one
patched in from this script, where it is kept as the baseline); the two must
give identical scores, which the script checks before timing.

Maps: Grad-CAM at the last convolution of lesson 02's GAP network on its 1,000
test shapes (64 x 64), as lessons 03 to 07 score them, and uniform noise
upsampled from 8 x 8 (many small components: the hard case).

Run: ``.venv/bin/python bench/box_metrics.py [--repeats 5]`` (the CPU: the labelling runs there).
"""

import argparse
from unittest import mock

import numpy as np
import torch
from scipy import ndimage
from timing import interleaved, record

from helpers import boxes, cam, checkpoints, gradcam, metrics
from helpers.boxes import Components


def scipy_components(kept):
    """The former ``boxes.connected_components``: scipy on the volume, find_objects for the boxes."""
    mask = kept.detach().cpu().numpy()
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a mask, never across masks
    labels, count = ndimage.label(mask, structure=structure)
    spans = np.array([[z.start, x.start, y.start, x.stop, y.stop] for z, y, x in ndimage.find_objects(labels)],
                     dtype=np.int64).reshape(count, 5)
    sizes = np.bincount(labels[mask], minlength=count + 1)[1:]
    return Components(torch.from_numpy(spans[:, 0]), torch.from_numpy(spans[:, 1:]).float(), torch.from_numpy(sizes))


def scored(maps, truth, labelling):
    with mock.patch.object(metrics, "connected_components", labelling):
        return metrics.box_scores(maps, truth, progress=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device("cpu")
    model, test_set = checkpoints.load_shapes_gap(), checkpoints.shapes_gap_test_set()
    noise = torch.rand(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    maps = {"Grad-CAM": cam.upsample(gradcam.grad_cam(model, test_set.images, test_set.labels, "backbone.17").maps,
                                     64)[:, 0],
            "noise": torch.nn.functional.interpolate(noise, size=64, mode="bilinear")[:, 0]}
    for name, found in maps.items():
        new = scored(found, test_set.boxes, boxes.connected_components)
        old = scored(found, test_set.boxes, scipy_components)
        assert torch.equal(new.largest, old.largest) and torch.equal(new.best, old.best), name
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; both labellings give identical scores")
    runs = {}
    for name, found in maps.items():
        runs[f"{name}, OpenCV"] = lambda found=found: scored(found, test_set.boxes, boxes.connected_components)
        runs[f"{name}, scipy"] = lambda found=found: scored(found, test_set.boxes, scipy_components)
    medians = interleaved(runs, args.repeats, device, warmup=1)
    ratios = [(f"box_scores, 1,000 {name} maps: scipy labelling / OpenCV",
               medians[f"{name}, scipy"] / medians[f"{name}, OpenCV"], ">= 1.3") for name in maps]
    for comparison, value, goal in ratios:
        print(f"{comparison}: {value:.2f} (goal {goal})")
    record("box_metrics", device, ratios,
           f"1,000 maps 64 x 64, 100 thresholds, {args.repeats} repeats; OpenCV "
           f"{medians['Grad-CAM, OpenCV']:.2f} s and scipy {medians['Grad-CAM, scipy']:.2f} s for the Grad-CAM maps")


if __name__ == "__main__":
    main()
