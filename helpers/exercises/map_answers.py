"""The experiments behind the worked answers of lessons 06 (RISE) and 07 (the comparison).

Like :mod:`helpers.exercises.answers`, for what is too slow for ``make test``:
``scripts/run_seeds.py rise_exercises`` runs :func:`rise_exercise_runs` once and
stores the results under ``data/seeds/``; the solution notebook loads them.

- ``rise_exercises`` (lesson 06, exercises 1 to 6), all on lesson 02's GAP network
  and its test shapes or on EfficientNet-Lite0 and the course's photos: the keep
  probability p at 0.1, 0.5 and 0.9 (two independent mask sets each); the
  probability against the logit as the score; deletion and insertion with 224
  pixels per step against the lesson's 1,792; occlusion against RISE with as many
  forward passes; a 14 x 14 grid against the paper's 7 x 7 on three photos; 500
  and 1,000 masks against Grad-CAM's boxes; Grad-CAM's zero pixels deleted in a
  random order instead of raster order.
- ``comparison_exercises`` (lesson 07, exercises 1 to 5): lesson 02's flatten-head
  network in the comparison table and the randomisation test, next to the GAP
  network on the same centred shapes; RISE with 2,000 masks against 300 on 30
  shapes; deletion onto the blurred image instead of zeros; Adebayo et al.'s
  independent randomisation against the cascade; the photos shrunk into a corner
  of the canvas, where a centre Gaussian cannot find the objects.
"""

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import checkpoints, compare, rise, seeds
from ..cam import upsample
from ..data import load_photos
from ..gradcam import grad_cam
from ..metrics import causal_curves, localization_row
from ..models import imagenet_model

#: Lesson 06's settings (its shapes, photos and layers) and those of its exercises.
RISE_EXERCISE_RECIPE = {
    "shapes": 200, "layer": "backbone.17", "cells": 7, "keep": 0.5, "batch_size": 10,
    "keeps": [0.1, 0.5, 0.9], "keep_images": 50, "keep_masks": 1000,
    "mask_runs": [[500, 0], [500, 1], [1000, 0]],
    "patch": 16, "stride": 4, "occlusion_rise_seeds": [0, 1, 2],
    "photos_layer": "conv_head", "score_photo": "coffee", "score_masks": 1000, "photo_batch": 50,
    "lesson_photos": ["coffee", "motorcycle"], "lesson_masks": 500, "steps": [1792, 224], "tie_seeds": [0, 1, 2],
    "grid_photos": ["coffee", "motorcycle", "chelsea"], "grids": [7, 14], "grid_masks": 1000,
    "shown": 28,
}


def occlusion_masks(size, patch, stride, device=None):
    """One mask per position of a ``patch`` x ``patch`` grey square slid by ``stride``: (P, size, size), 0 in it."""
    starts = range(0, size - patch + 1, stride)
    masks = torch.ones(len(starts) ** 2, size, size, device=device)
    for index, (top, left) in enumerate((top, left) for top in starts for left in starts):
        masks[index, top:top + patch, left:left + patch] = 0
    return masks


def occlusion(model, images, classes, masks, batch_size=10):
    """Occlusion maps (Zeiler & Fergus, 2014) from RISE's ingredients: (B, H, W).

    Each pixel gets the mean drop of the class probability, ``f(I) - f(I * M_i)``,
    over the masks ``M_i`` whose square hides it (0 where no square does).
    """
    column = classes.view(-1, 1)
    unmasked = rise.masked_scores(model, images, column, torch.ones_like(masks[:1]))[:, :, 0]  # (B, 1)
    drops, hidden = 0, (1 - masks).flatten(1)
    for start in range(0, masks.shape[0], batch_size):
        chunk = masks[start:start + batch_size]
        drop = unmasked - rise.masked_scores(model, images, column, chunk)[:, :, 0]  # (B, n)
        drops = drops + drop @ hidden[start:start + batch_size]
    return (drops / hidden.sum(dim=0).clamp(min=1)).view(images.shape[0], *masks.shape[-2:])


def _small(maps, side):
    """Maps (B, H, W) averaged down to ``side`` x ``side`` and rounded, for a figure in the stored results."""
    return F.adaptive_avg_pool2d(maps[:, None].float(), side)[:, 0].round(decimals=4).tolist()


def _correlation(a, b):
    return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()


def _keep_part(model, shapes, recipe):
    """Exercise 1: p in ``keeps``; each p's maps from two independent mask sets, with the 1 / p and without."""
    count = recipe["keep_images"]
    images, labels = shapes.images[:count], shapes.labels[:count]
    rows = {}
    for keep in recipe["keeps"]:
        maps = [rise.rise(model, images, labels, masks=recipe["keep_masks"], keep=keep, seed=seed,
                          batch_size=recipe["batch_size"], progress=False).maps[:, 0].cpu() for seed in (0, 1)]
        alike = torch.tensor([_correlation(a, b) for a, b in zip(*maps)])
        spans = maps[0].amax(dim=(1, 2)) - maps[0].amin(dim=(1, 2))
        rows[str(keep)] = {"two mask sets: correlation, median": alike.median().item(),
                           "map mean, with 1/p": maps[0].mean().item(),
                           "map mean, without": (maps[0] * keep).mean().item(),
                           "map range (max - min), median": spans.median().item(),
                           **localization_row(maps[0], shapes.boxes[:count], shapes.masks[:count], progress=False)[0]}
    return rows


def _mask_count_part(model, shapes, recipe):
    """Exercise 6, first half: RISE with 500 and 1,000 masks on the recipe's shapes (two mask seeds each)."""
    return {f"RISE, N = {n}, mask seed {seed}": localization_row(
        rise.rise(model, shapes.images, shapes.labels, masks=n, seed=seed, batch_size=recipe["batch_size"],
                  progress=False).maps[:, 0].cpu(), shapes.boxes, shapes.masks, progress=False)[0]
        for n, seed in tqdm(recipe["mask_runs"], desc="mask counts", leave=False)}


def _occlusion_part(model, shapes, recipe):
    """Exercise 4: occlusion against RISE with as many masks as occlusion has positions."""
    masks = occlusion_masks(shapes.images.shape[-1], recipe["patch"], recipe["stride"], shapes.images.device)
    maps = {"occlusion": occlusion(model, shapes.images, shapes.labels, masks, recipe["batch_size"]).cpu()}
    for seed in recipe["occlusion_rise_seeds"]:
        maps[f"RISE, N = {masks.shape[0]}, mask seed {seed}"] = rise.rise(
            model, shapes.images, shapes.labels, masks=masks.shape[0], seed=seed, batch_size=recipe["batch_size"],
            progress=False).maps[:, 0].cpu()
    rows = {name: localization_row(found, shapes.boxes, shapes.masks, progress=False)[0]
            for name, found in maps.items()}
    return {"forward passes per image": masks.shape[0], "rows": rows}


def _aucs(model, images, maps, step):
    return {mode: causal_curves(model, images, maps, mode, step=step, progress=False).auc.tolist()
            for mode in ("deletion", "insertion")}


def _photo_parts(pretrained, photos, recipe):
    """Exercises 2, 3, 5 and the second half of 6, on the photos with EfficientNet-Lite0."""
    model, images = pretrained.model, photos.images
    options = dict(batch_size=recipe["photo_batch"], progress=False)
    results = {}

    one = images[photos.names.index(recipe["score_photo"])][None]  # exercise 2: probability against logit
    maps = {(score, seed): rise.rise(model, one, masks=recipe["score_masks"], score=score, seed=seed,
                                     **options).maps[0, 0]
            for score in ("probability", "logit") for seed in (0, 1)}
    results["score"] = {
        "probability against logit, same masks": _correlation(maps["probability", 0], maps["logit", 0]),
        "probability, two mask sets": _correlation(maps["probability", 0], maps["probability", 1]),
        "logit, two mask sets": _correlation(maps["logit", 0], maps["logit", 1]),
        "aucs": {score: _aucs(model, one, maps[score, 0][None], recipe["steps"][0])
                 for score in ("probability", "logit")},
        "maps shown": {score: _small(maps[score, 0][None], recipe["shown"])[0] for score in ("probability", "logit")}}

    chosen = [photos.names.index(name) for name in recipe["lesson_photos"]]  # exercises 3 and 6: the lesson's two
    lesson = images[chosen]
    found = rise.rise(model, lesson, masks=recipe["lesson_masks"], **options)
    grad = upsample(grad_cam(model, lesson, found.classes, recipe["photos_layer"]).maps, 224)[:, 0]
    results["steps"] = {str(step): {"RISE": _aucs(model, lesson, found.maps[:, 0], step),
                                    "Grad-CAM": _aucs(model, lesson, grad, step)} for step in recipe["steps"]}
    ties = {"zero pixels of the Grad-CAM map": (grad == 0).float().mean(dim=(1, 2)).tolist()}
    for seed in recipe["tie_seeds"]:  # the zeros (all below every positive pixel) shuffled among themselves
        shuffled = torch.where(grad == 0, -torch.rand(grad.shape, generator=torch.Generator().manual_seed(seed)), grad)
        ties[f"random order, seed {seed}"] = causal_curves(model, lesson, shuffled, "deletion", step=recipe["steps"][0],
                                                           progress=False).auc.tolist()
    results["ties"] = ties

    grids = {}  # exercise 5: a finer grid
    for name in tqdm(recipe["grid_photos"], desc="grid photos", leave=False):
        photo = images[photos.names.index(name)][None]
        runs = {cells: [rise.rise(model, photo, masks=recipe["grid_masks"], cells=cells, seed=seed,
                                  **options).maps[0, 0] for seed in (0, 1)] for cells in recipe["grids"]}
        grids[name] = {str(cells): {"two mask sets: correlation": _correlation(*pair),
                                    "map shown": _small(pair[0][None], recipe["shown"])[0]}
                       for cells, pair in runs.items()}
    results["grids"] = grids
    return results


def rise_exercise_runs(recipe=RISE_EXERCISE_RECIPE, device="cpu"):
    """Every measurement of lesson 06's worked answers (see the module's docstring), as one dict of parts."""
    model, test_set = checkpoints.load_shapes_gap(device), checkpoints.shapes_gap_test_set()
    count = recipe["shapes"]
    shapes = test_set._replace(images=test_set.images[:count].to(device), labels=test_set.labels[:count].to(device),
                               boxes=test_set.boxes[:count], masks=test_set.masks[:count])
    pretrained = imagenet_model(device)
    photos = load_photos(pretrained.normalization)
    photos = photos._replace(images=photos.images.to(device))
    parts = {"keep": _keep_part, "mask counts": _mask_count_part, "occlusion": _occlusion_part}
    results = {name: part(model, shapes, recipe) for name, part in tqdm(parts.items(), desc="shapes parts")}
    results.update(_photo_parts(pretrained, photos, recipe))
    return results


#: Lesson 07's section 2 (its shapes, settings and step) and the settings of its exercises.
COMPARISON_EXERCISE_RECIPE = {
    "shapes": 100, "step": 256,
    "settings": {"views": 32, "resolution": 32, "masks": 300, "seed": 0, "layer": "backbone.17"},
    "sanity_images": 8, "sanity": {"views": 16, "resolution": 32, "masks": 200, "layer": "backbone.17"},
    "centred_images": 100, "rise_images": 30, "rise_masks": [300, 2000],
    "corner_scale": 0.5, "photo_views": 16, "photos_layer": "conv_head",
}
#: The methods of the randomisation tests: RISE is left out (lesson 07 found it inconclusive at 200 masks).
SANITY_METHODS = ("CAM", "Grad-CAM", "Augmented Grad-CAM", "centre Gaussian", "random")


def _sanity(model, images, classes, methods, recipe, cascading=True):
    found = compare.randomization_test(model, images, classes, methods, cascading=cascading, progress=False,
                                       **recipe["sanity"])
    return {"stages": found.stages,
            "|rho|": {m: values.abs().mean(dim=1).tolist() for m, values in found.per_image.items()},
            "SSIM": {m: values.mean(dim=1).tolist() for m, values in found.ssim.items()}}


def _flatten_part(model, recipe):
    """Exercise 1: the flatten-head and the GAP network on the same centred, upright shapes (their training kind)."""
    centred = seeds.centred_shapes(seeds.HEADS_RECIPE["test_images"], seeds.HEADS_RECIPE["test_seed"])
    count, few = recipe["centred_images"], recipe["sanity_images"]
    flatten = seeds.stored_flatten_net()
    results = {}
    for name, network, methods in (("flatten head", flatten, [m for m in compare.METHODS if m != "CAM"]),
                                   ("GAP", model, compare.METHODS)):
        explained = compare.explain_all(network, centred.images[:count], centred.labels[:count], methods,
                                        progress=False, **recipe["settings"])
        results[name] = {"rows": compare.score(network, centred.images[:count], centred.boxes[:count],
                                               centred.masks[:count], explained, step=recipe["step"], progress=False),
                         "sanity": _sanity(network, centred.images[:few], centred.labels[:few],
                                           [m for m in SANITY_METHODS if m in methods], recipe)}
    return results


def _corner_photos(photos, scale):
    """Each photo shrunk by ``scale`` into each corner of an empty (zero, the mean colour) canvas, boxes moved along."""
    side = photos.images.shape[-1]
    small = round(side * scale)
    shrunk = F.interpolate(photos.images, size=small, mode="bilinear", antialias=True, align_corners=False)
    images, boxes = [], []
    for top, left in ((0, 0), (0, side - small), (side - small, 0), (side - small, side - small)):
        canvas = torch.zeros_like(photos.images)
        canvas[:, :, top:top + small, left:left + small] = shrunk
        images.append(canvas)
        boxes.append(photos.boxes * small / side + torch.tensor([left, top, left, top], dtype=photos.boxes.dtype))
    return torch.cat(images), torch.cat(boxes)


def _photo_rows(pretrained, images, boxes, recipe):
    with torch.no_grad():
        predicted = pretrained.model(images).argmax(dim=1)
    methods = [m for m in compare.METHODS if m != "RISE"]
    explained = compare.explain_all(pretrained.model, images, predicted, methods, batch_size=9, progress=False,
                                    views=recipe["photo_views"], seed=0, layer=recipe["photos_layer"])
    return compare.score(pretrained.model, images, boxes, None, explained, causal=False, progress=False), predicted


def comparison_exercise_runs(recipe=COMPARISON_EXERCISE_RECIPE):
    """Every measurement of lesson 07's worked answers (see the module's docstring), as one dict of parts."""
    model, test_set = checkpoints.load_shapes_gap(), checkpoints.shapes_gap_test_set()
    count, few = recipe["shapes"], recipe["sanity_images"]
    images, labels = test_set.images[:count], test_set.labels[:count]
    results = {"flatten": _flatten_part(model, recipe)}

    part = slice(0, recipe["rise_images"])  # exercise 2: RISE with more masks, on fewer images
    rows = []
    for masks in recipe["rise_masks"]:
        explained = compare.explain_all(model, images[part], labels[part], ("RISE",), progress=False,
                                        **{**recipe["settings"], "masks": masks})
        rows += [{**row, "method": f"RISE, N = {masks}"} for row in compare.score(
            model, images[part], test_set.boxes[part], test_set.masks[part], explained, step=recipe["step"],
            progress=False)]
    explained = compare.explain_all(model, images[part], labels[part], ("Grad-CAM",), progress=False,
                                    **recipe["settings"])
    rows += compare.score(model, images[part], test_set.boxes[part], test_set.masks[part], explained,
                          step=recipe["step"], progress=False)
    results["rise masks"] = rows

    explained = compare.explain_all(model, images, labels, progress=False, **recipe["settings"])  # exercise 3
    results["deletion substrate"] = {method: {deleted: causal_curves(model, images, found.maps, "deletion",
                                                                     step=recipe["step"], progress=False,
                                                                     deleted=deleted).auc.mean().item()
                                              for deleted in ("zeros", "blur")}
                                     for method, found in explained.items()}

    results["independent"] = {kind: _sanity(model, images[:few], labels[:few], SANITY_METHODS, recipe, cascading)
                              for kind, cascading in (("cascading", True), ("independent", False))}  # exercise 4

    pretrained = imagenet_model()  # exercise 5: objects in a corner
    photos = load_photos(pretrained.normalization)
    corner_images, corner_boxes = _corner_photos(photos, recipe["corner_scale"])
    original, original_classes = _photo_rows(pretrained, photos.images, photos.boxes, recipe)
    corner, corner_classes = _photo_rows(pretrained, corner_images, corner_boxes, recipe)
    same = (corner_classes == original_classes.repeat(4)).float().mean().item()
    results["corners"] = {"photos": original, "corners": corner, "same class as the full photo": same}
    return results
