"""Interactive figures for the lessons, built with ipywidgets.

Each widget calls a plain drawing function on every change; the tests call that
function directly, so a widget's picture is checked without a browser.

A redraw must keep up with a lecturer's hand (bench/widget_redraw.py times every
control in a kernel; the goal is 250 ms on two cores). So a widget keeps every map
it computed (``functools.lru_cache``, keyed by the settings that make the map),
the sliders that make a new map update when released rather than at every step of
a drag, the threshold and opacity redraw from the kept map at once, and each widget
draws into one figure whose layout is settled by its first frame (:func:`_figure`).
"""

import functools
import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from .augmented import LAMBDA_PER_VIEW, Augmentations, super_resolve
from .boxes import iou, threshold_heatmaps
from .cam import upsample
from .data import SHAPE_CLASSES, make_shapes
from .gradcam import grad_cam
from .rise import rise
from .viz import (
    LOWER_IS_BETTER,
    PREDICTION_COLOUR,
    as_jpeg,
    axes_off,
    colourize,
    draw_box,
    draw_map_with_box,
    draw_mask_outline,
    draw_prediction,
    draw_probabilities,
    draw_sample,
    rank_rows,
    rescale,
    to_image,
)


def _figure(fig, *grid, **options):
    """``(figure, axes)`` for a frame, as ``plt.subplots(*grid, **options)`` with constrained layout; or, given ``fig``
    (a figure an earlier frame of the same widget made), that figure emptied and its layout left where the first
    drawing put it: the frames of one widget have one shape, and building a figure and settling its layout cost
    about half of a redraw. Emptying removes what was drawn (images, boxes, outlines, bars, texts, titles) and
    resets the data limits and the axis switch, which is cheaper than clearing the axes (that rebuilds ticks)."""
    if fig is None:
        return plt.subplots(*grid, layout="constrained", **options)
    fig.set_layout_engine("none")
    for ax in fig.axes:
        for artist in [*ax.images, *ax.patches, *ax.collections, *ax.lines, *ax.texts]:
            artist.remove()
        ax.containers.clear()
        ax.relim()
        ax.set_title("")
        ax.set_axis_on()
        ax.xaxis.set_visible(True)
        ax.yaxis.set_visible(True)
    return fig, fig.axes[0] if len(fig.axes) == 1 else fig.axes


class _Screen:
    """Where a widget shows its frames: one figure, made by the first frame and drawn into again by the later
    ones (see :func:`_figure`), displayed as a JPEG."""

    def __init__(self):
        self.figure = None

    def show(self, draw):
        """``draw(figure or None)`` returns the figure it drew in; display it."""
        self.figure = draw(self.figure)
        display(as_jpeg(self.figure))


def controls(box):
    """The controls (value widgets) inside a widget box made here, by description: to drive a widget from code."""
    found = {}
    for child in box.children:
        if isinstance(child, widgets.Box):
            found.update(controls(child))
        elif isinstance(child, widgets.ValueWidget) and child.description:
            found[child.description] = child
    return found


def draw_browser_frame(shapes, index, show_mask=True, fig=None):
    """The picture the sample browser shows for image ``index``: a figure sized for a projector (``fig``: see
    :func:`_figure`)."""
    fig, ax = _figure(fig, figsize=(5.5, 5.5))
    draw_sample(ax, shapes, index, show_mask=show_mask)
    ax.set_title(f"image {index}: {ax.get_title()}")
    return fig


def sample_browser(shapes):
    """A slider over the images of a :class:`helpers.data.Shapes` batch and a mask toggle.

    Returns the widget box; display it as the last expression of a cell.
    """
    count = shapes.images.shape[0]
    index = widgets.IntSlider(value=0, min=0, max=count - 1, description="image", continuous_update=True,
                              layout=widgets.Layout(width="60%"))
    show_mask = widgets.Checkbox(value=True, description="mask outline")
    screen = _Screen()

    def redraw(index, show_mask):
        screen.show(lambda fig: draw_browser_frame(shapes, index, show_mask, fig))

    output = widgets.interactive_output(redraw, {"index": index, "show_mask": show_mask})
    return widgets.VBox([widgets.HBox([index, show_mask]), output])


def draw_prediction_frame(shapes, predictions, variant, index, fig=None):
    """The picture the prediction browser shows: test image ``index`` under the model ``variant``.

    ``predictions[variant]`` is ``(labels (N,), boxes (N, 4) xyxy pixels, ious (N,))``; ``fig``: see :func:`_figure`.
    """
    labels, boxes, ious = predictions[variant]
    truth, guess = SHAPE_CLASSES[int(shapes.labels[index])], SHAPE_CLASSES[int(labels[index])]
    verdict = "right" if truth == guess and ious[index] >= 0.5 else "wrong"
    fig, ax = _figure(fig, figsize=(5.5, 5.8))
    draw_prediction(ax, shapes.images[index], shapes.boxes[index], boxes[index],
                    f"{variant}, image {index}: {verdict}\ntrue {truth}, predicted {guess}, IoU {float(ious[index]):.2f}")
    return fig


def prediction_browser(shapes, predictions):
    """A slider over test images and buttons for the model variant (e.g. the box loss).

    True box white, predicted box magenta; the title gives both classes and the IoU.
    """
    index = widgets.IntSlider(value=0, min=0, max=shapes.images.shape[0] - 1, description="image",
                              layout=widgets.Layout(width="60%"))
    variant = widgets.ToggleButtons(options=list(predictions), description="model")
    screen = _Screen()

    def redraw(variant, index):
        screen.show(lambda fig: draw_prediction_frame(shapes, predictions, variant, index, fig))

    output = widgets.interactive_output(redraw, {"variant": variant, "index": index})
    return widgets.VBox([index, variant, output])


def shifted_shape(shift, size=64, index=0, radius=(0.12 * 64, 0.22 * 64)):
    """One upright shape ``shift`` pixels from the centre of a ``size`` canvas (the image ``index`` of its kind).

    The default radius is that of the 64 x 64 images, so a larger canvas adds room, not a larger object.
    """
    return make_shapes(1, size=size, placement="centred", shift=shift, rotation=(0, 0), radius=radius, seed=index)


def draw_shift_frame(classifiers, shift, size=64, index=0, fig=None):
    """The image and, for every classifier (name -> model), its class probabilities as bars.

    A model that cannot take a ``size x size`` input gets a panel saying why instead of bars.
    ``fig``: see :func:`_figure`.
    """
    shape = shifted_shape(shift, size, index)
    truth = int(shape.labels[0])
    fig, axes = _figure(fig, 1, 1 + len(classifiers), figsize=(5 + 4.5 * len(classifiers), 4.6),
                        width_ratios=[1.1] + [1] * len(classifiers))
    axes[0].imshow(to_image(shape.images[0]))
    axes[0].set_title(f"{SHAPE_CLASSES[truth]}, {shift:g} px off centre\n{size} x {size} canvas")
    axes_off(axes[0])
    for ax, (name, model) in zip(axes[1:], classifiers.items()):
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                probabilities = model.eval()(shape.images.to(device)).softmax(dim=1)[0]
        except RuntimeError as error:  # e.g. a flatten head fed a larger canvas than it was built for
            ax.text(0.5, 0.5, f"{name} cannot run on\n{size} x {size} images:\n\n{textwrap.fill(str(error), 34)}",
                    ha="center", va="center", fontsize=12, transform=ax.transAxes)
            axes_off(ax)
            continue
        guess = int(probabilities.argmax())
        title = f"{name}: {SHAPE_CLASSES[guess]} ({float(probabilities[guess]):.2f})"
        draw_probabilities(ax, probabilities, truth, title)
    return fig


def shift_browser(classifiers, sizes=(64, 96, 128), radius_max=0.22 * 64):
    """Sliders for the shift, the canvas size and the image, redrawing :func:`draw_shift_frame`.

    The shift slider's range follows the canvas: up to ``size / 2 - radius_max`` pixels.
    """
    shift = widgets.IntSlider(value=0, min=0, max=int(sizes[0] / 2 - radius_max), description="shift (px)",
                              layout=widgets.Layout(width="60%"))
    size = widgets.SelectionSlider(options=list(sizes), value=sizes[0], description="canvas",
                                   layout=widgets.Layout(width="40%"))
    index = widgets.IntSlider(value=0, min=0, max=49, description="image", layout=widgets.Layout(width="40%"))
    size.observe(lambda change: setattr(shift, "max", int(change["new"] / 2 - radius_max)), names="value")

    screen = _Screen()

    def redraw(shift, size, index):
        screen.show(lambda fig: draw_shift_frame(classifiers, shift, size, index, fig))

    output = widgets.interactive_output(redraw, {"shift": shift, "size": size, "index": index})
    return widgets.VBox([shift, widgets.HBox([size, index]), output])


def draw_map_frame(image, heatmap, tau, title, true_box=None, grid=None, alpha=0.5, normalization=None, fig=None):
    """A heat-map and the box drawn from it, in two panels; returns ``(figure, IoU or None)``.

    ``heatmap`` (H, W) is at the image's size; the box is the CAM paper's (pixels
    >= ``tau`` x the map's maximum, largest connected region). Left: the map over
    the image, the true box white (if given), the map's box magenta. Right: the map
    on its own ``grid`` (h, w) if given (each cell a visible square), else the map
    itself, with the kept region outlined in white. ``fig``: see :func:`_figure`.
    """
    fig, (left, right) = _figure(fig, 1, 2, figsize=(11, 5.6))
    overlap = draw_map_with_box(left, image, heatmap, tau, true_box, alpha=alpha, normalization=normalization)
    left.set_title(title if overlap is None else f"{title}, IoU {overlap:.2f}")
    height, width = heatmap.shape
    shown = heatmap if grid is None else grid
    right.imshow(colourize(rescale(shown)).numpy(), extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                 interpolation="bilinear" if grid is None else "nearest")
    draw_mask_outline(right, threshold_heatmaps(heatmap, tau), colour="#ffffff")
    cells = "" if grid is None else f"{grid.shape[0]} x {grid.shape[1]} "
    right.set_title(f"{cells}map; white outline: >= {tau:.2f} x max" if heatmap.max() > 0
                    else "the map is zero everywhere: no box")
    axes_off(right)
    return fig, overlap


def draw_cam_frame(shapes, maps, predicted, index, target, tau, alpha=0.5, fig=None):
    """Class activation map of image ``index`` for class ``target`` (-1: the predicted class), and its box.

    ``maps`` (N, classes, H, W) are raw CAMs at the image size, drawn by :func:`draw_map_frame`.
    """
    target = int(predicted[index]) if target < 0 else target
    truth, guess = SHAPE_CLASSES[int(shapes.labels[index])], SHAPE_CLASSES[int(predicted[index])]
    title = f"image {index}: {truth}, predicted {guess}\nmap of class {SHAPE_CLASSES[target]}"
    fig, _ = draw_map_frame(shapes.images[index], maps[index, target], tau, title, shapes.boxes[index], alpha=alpha,
                            fig=fig)
    return fig


def cam_browser(shapes, maps, predicted):
    """Sliders for the image, the threshold and the overlay's opacity, and a menu for the class of the map."""
    index = widgets.IntSlider(value=0, min=0, max=shapes.images.shape[0] - 1, description="image",
                              layout=widgets.Layout(width="60%"))
    target = widgets.Dropdown(options=[("predicted", -1)] + [(name, i) for i, name in enumerate(SHAPE_CLASSES)],
                              value=-1, description="class")
    tau = widgets.FloatSlider(value=0.2, min=0.0, max=1.0, step=0.05, description="threshold")
    alpha = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.1, description="opacity")

    screen = _Screen()

    def redraw(index, target, tau, alpha):
        screen.show(lambda fig: draw_cam_frame(shapes, maps, predicted, index, target, tau, alpha, fig))

    output = widgets.interactive_output(redraw, {"index": index, "target": target, "tau": tau, "alpha": alpha})
    return widgets.VBox([index, widgets.HBox([target, tau, alpha]), output])


def _ordinal(n):
    """1st, 2nd, 3rd, 4th, ... (up to 20th, enough for a menu of guesses)."""
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def gradcam_guesses(model, images, layer, ranks=5):
    """The model's ``ranks`` best guesses for images (B, C, H, W) and their Grad-CAMs at ``layer``, before the ReLU.

    Returns ``(probabilities (B, ranks), classes (B, ranks), raw (B, ranks, h, w))`` from one
    forward and one batched backward pass. ``ReLU(raw)`` is Grad-CAM and ``ReLU(-raw)``
    the counterfactual map (whose weights are the negated ones), so one call serves both.
    """
    result = grad_cam(model, images, layer=layer, top=ranks)
    return result.logits.softmax(dim=1).gather(1, result.classes), result.classes, result.raw


def draw_gradcam_frame(model, images, index, layer, rank, tau, counterfactual=False, categories=SHAPE_CLASSES,
                       true_boxes=None, normalization=None, guesses=None, fig=None):
    """Grad-CAM of image ``index`` for the model's ``rank``-th guess (0: its top class) at ``layer``, and its box.

    The map comes from ``guesses`` (this image's entries of :func:`gradcam_guesses` at this layer, with at
    least ``rank + 1`` guesses) or is computed here; it is upsampled to the
    image size and drawn by :func:`draw_map_frame` next to its own grid (``fig``: see :func:`_figure`).
    """
    if guesses is None:
        guesses = [found[0] for found in gradcam_guesses(model, images[index:index + 1], layer, rank + 1)]
    probabilities, classes, raw = guesses
    grid = (-raw[rank] if counterfactual else raw[rank]).clamp(min=0)
    heatmap = upsample(grid[None, None], images.shape[-2:])[0, 0].cpu()
    kind = "counterfactual Grad-CAM" if counterfactual else "Grad-CAM"
    title = (f"image {index}, {_ordinal(rank + 1)} guess: {categories[int(classes[rank])]} "
             f"({float(probabilities[rank]):.2f})\n{kind} at {layer}")
    true_box = None if true_boxes is None else true_boxes[index]
    fig, _ = draw_map_frame(images[index], heatmap, tau, title, true_box, grid.cpu(), normalization=normalization,
                            fig=fig)
    return fig


def gradcam_browser(model, images, layers, categories=SHAPE_CLASSES, true_boxes=None, normalization=None, ranks=5):
    """Controls for the image, the layer (a slider, early to late), the class (the model's 1st to ``ranks``-th
    guess), the threshold (default 0.15, Grad-CAM's) and the counterfactual map; redraws :func:`draw_gradcam_frame`.

    ``layers`` are the dotted names of the layers offered, in the order of the network. The maps of
    every guess of an image at a layer are computed once (:func:`gradcam_guesses`) and kept, so the
    class, the sign and the threshold redraw without the network; those of every image at the default
    (last) layer are computed with the widget, in one batch, so the image slider only draws there. The
    image and layer sliders compute on release.
    """
    ranks, last = min(ranks, len(categories)), list(layers)[-1]
    index = widgets.IntSlider(value=0, min=0, max=images.shape[0] - 1, description="image", continuous_update=False,
                              layout=widgets.Layout(width="50%"))
    layer = widgets.SelectionSlider(options=list(layers), value=last, description="layer",
                                    continuous_update=False, layout=widgets.Layout(width="50%"))
    rank = widgets.Dropdown(options=[(f"{_ordinal(r + 1)} guess", r) for r in range(ranks)], value=0,
                            description="class")
    tau = widgets.FloatSlider(value=0.15, min=0.0, max=1.0, step=0.05, description="threshold")
    counterfactual = widgets.Checkbox(value=False, description="counterfactual")
    every = gradcam_guesses(model, images, last, ranks)  # the default layer: every image in one batch
    one = functools.lru_cache(maxsize=64)(lambda i, name: gradcam_guesses(model, images[i:i + 1], name, ranks))

    def guesses(i, name):
        return [found[i] for found in every] if name == last else [found[0] for found in one(i, name)]

    screen = _Screen()

    def redraw(index, layer, rank, tau, counterfactual):
        screen.show(lambda fig: draw_gradcam_frame(model, images, index, layer, rank, tau, counterfactual, categories,
                                                   true_boxes, normalization, guesses(index, layer), fig))

    output = widgets.interactive_output(redraw, {"index": index, "layer": layer, "rank": rank, "tau": tau,
                                                 "counterfactual": counterfactual})
    return widgets.VBox([widgets.HBox([index, layer]), widgets.HBox([rank, tau, counterfactual]), output])


def draw_augmented_frame(image, views, augmentations, count, lam, iterations, tau=0.15, true_box=None,
                         normalization=None, resolution=None, solved=None, fig=None):
    """Augmented Grad-CAM from the first ``count`` views (B = 1: views (1, L, h, w)) with weight ``lam``.

    The map is ``solved`` (what :func:`helpers.augmented.super_resolve` returned for
    these settings) or solved here (at most ``iterations`` L-BFGS iterations), and
    drawn by :func:`draw_map_frame` next to its grid (``fig``: see :func:`_figure`).
    """
    if solved is None:
        first = Augmentations(*(field[:count] for field in augmentations))
        solved = super_resolve(views[:, :count], first, image.shape[-1], lam=lam, resolution=resolution,
                               iterations=iterations, progress=False)
    heatmap, solution, history = solved
    title = f"Augmented Grad-CAM: L = {count}, lambda = {lam:.3g}, {len(history)} evaluations"
    fig, _ = draw_map_frame(image, heatmap[0].cpu(), tau, title, true_box, solution[0].cpu(),
                            normalization=normalization, fig=fig)
    return fig


def augmented_browser(image, views, augmentations, true_box=None, normalization=None, resolution=None):
    """Sliders for the number of views L, the TV weight lambda, the solver's iterations and the threshold.

    ``image`` (C, S, S) and its ``views`` (1, L, h, w) are computed once (the slow part). The
    first three sliders solve again on release; each solution is kept, so the threshold (and
    a setting seen before) redraws at once.
    """
    if image.dim() != 3 or views.dim() != 4 or views.shape[0] != 1 or views.shape[1] != len(augmentations.angles):
        raise ValueError(f"augmented_browser needs one image (C, S, S) and its views (1, L, h, w) for the "
                         f"{len(augmentations.angles)} warps, got {tuple(image.shape)} and {tuple(views.shape)}")
    most = views.shape[1]
    count = widgets.IntSlider(value=most, min=1, max=most, description="views L", continuous_update=False,
                              layout=widgets.Layout(width="50%"))
    lam = widgets.FloatLogSlider(value=LAMBDA_PER_VIEW * most, base=10, min=-4, max=1, step=0.25, description="lambda",
                                 continuous_update=False)
    iterations = widgets.IntSlider(value=100, min=1, max=200, description="iterations", continuous_update=False,
                                   layout=widgets.Layout(width="50%"))
    tau = widgets.FloatSlider(value=0.15, min=0.0, max=1.0, step=0.05, description="threshold")

    @functools.lru_cache(maxsize=64)
    def solve(count, lam, iterations):
        first = Augmentations(*(field[:count] for field in augmentations))
        return super_resolve(views[:, :count], first, image.shape[-1], lam=lam, resolution=resolution,
                             iterations=iterations, progress=False)

    screen = _Screen()

    def redraw(count, lam, iterations, tau):
        screen.show(lambda fig: draw_augmented_frame(image, views, augmentations, count, lam, iterations, tau,
                                                     true_box, normalization, resolution,
                                                     solve(count, lam, iterations), fig))

    output = widgets.interactive_output(redraw, {"count": count, "lam": lam, "iterations": iterations, "tau": tau})
    return widgets.VBox([widgets.HBox([count, lam]), widgets.HBox([iterations, tau]), output])


#: The RISE browser's choices of estimator: label -> the :func:`helpers.rise.rise` options.
RISE_ESTIMATORS = {"paper": {}, "centred": {"estimator": "centred"}, "complementary pairs": {"sampling": "complementary"}}


def draw_rise_frame(model, images, index, masks, cells, keep, tau=0.5, true_boxes=None, categories=SHAPE_CLASSES,
                    seed=0, estimator="paper", result=None, fig=None):
    """RISE map of image ``index`` for its predicted class, from ``masks`` masks of ``cells`` x ``cells`` grids
    kept with probability ``keep`` and the ``estimator`` (a key of :data:`RISE_ESTIMATORS`), with its box at
    ``tau``; drawn by :func:`draw_map_frame`. ``result``: the :func:`helpers.rise.rise` result for exactly
    these settings, if already computed; ``fig``: see :func:`_figure`."""
    if result is None:
        result = rise(model, images[index:index + 1], masks=masks, cells=cells, keep=keep, seed=seed, progress=False,
                      **RISE_ESTIMATORS[estimator])
    name = categories[int(result.classes[0, 0])]
    title = f"image {index}, predicted {name}: RISE ({estimator}), N = {masks}, s = {cells}, p = {keep:.2f}"
    true_box = None if true_boxes is None else true_boxes[index]
    fig, _ = draw_map_frame(images[index], result.maps[0, 0].cpu(), tau, title, true_box, fig=fig)
    return fig


def rise_browser(model, images, true_boxes=None, categories=SHAPE_CLASSES, masks=250, estimator="centred"):
    """Sliders for the image, the number of masks N, the grid s, the keep probability p and the threshold,
    and a menu for the estimator (complementary pairs need p = 0.5, so p is then fixed); meant for small,
    fast models. The sliders that change the map compute on release (:func:`draw_rise_frame`); each map
    is kept, so the threshold (and a setting seen before) redraws at once."""
    index = widgets.IntSlider(value=0, min=0, max=images.shape[0] - 1, description="image", continuous_update=False,
                              layout=widgets.Layout(width="50%"))
    count = widgets.IntSlider(value=masks, min=50, max=2000, step=50, description="masks N", continuous_update=False,
                              layout=widgets.Layout(width="50%"))
    cells = widgets.IntSlider(value=7, min=2, max=16, description="grid s", continuous_update=False)
    keep = widgets.FloatSlider(value=0.5, min=0.1, max=0.9, step=0.1, description="keep p", continuous_update=False)
    tau = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="threshold")
    choice = widgets.Dropdown(options=list(RISE_ESTIMATORS), value=estimator, description="estimator")

    def pairs_need_half(change):
        if change["new"] == "complementary pairs":
            keep.value = 0.5
        keep.disabled = change["new"] == "complementary pairs"

    choice.observe(pairs_need_half, names="value")
    pairs_need_half({"new": estimator})

    @functools.lru_cache(maxsize=64)
    def explain(index, masks, cells, keep, estimator):
        return rise(model, images[index:index + 1], masks=masks, cells=cells, keep=keep, seed=0, progress=False,
                    **RISE_ESTIMATORS[estimator])

    screen = _Screen()

    def redraw(index, masks, cells, keep, estimator, tau):
        screen.show(lambda fig: draw_rise_frame(model, images, index, masks, cells, keep, tau, true_boxes, categories,
                                                estimator=estimator, fig=fig,
                                                result=explain(index, masks, cells, keep, estimator)))

    output = widgets.interactive_output(redraw, {"index": index, "masks": count, "cells": cells, "keep": keep,
                                                 "estimator": choice, "tau": tau})
    return widgets.VBox([widgets.HBox([index, count]), widgets.HBox([cells, keep, tau]), choice, output])


def convergence_browser(image, maps, true_box=None, normalization=None, name="RISE"):
    """A slider over precomputed maps of one image, ``maps`` {N: (H, W) map}, and the threshold."""
    counts = sorted(maps)
    count = widgets.SelectionSlider(options=counts, value=counts[-1], description="masks N",
                                    layout=widgets.Layout(width="50%"))
    tau = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="threshold")

    screen = _Screen()

    def redraw(count, tau):
        screen.show(lambda fig: draw_map_frame(image, maps[count], tau, f"{name}, N = {count}", true_box,
                                               normalization=normalization, fig=fig)[0])

    output = widgets.interactive_output(redraw, {"count": count, "tau": tau})
    return widgets.VBox([widgets.HBox([count, tau]), output])


def draw_comparison_frame(images, maps, true_boxes, rows, index, tau, metric, normalization=None, boxes=None,
                          fig=None):
    """Image ``index`` under every method of ``maps`` {method: (N, H, W)}, and the table ranked by ``metric``.

    Top row: each map over the image with the true box (white), the box drawn from
    the map at ``tau`` (magenta) and its IoU in the title; ``boxes`` {name: (N, 4)}
    adds panels for methods that give a box without a map. Bottom: a bar per row of
    ``rows`` with ``metric``, best on top. Returns ``(figure, {method: IoU})``; ``fig``: see :func:`_figure`.
    """
    panels = len(maps) + len(boxes or {})
    if fig is None:
        fig = plt.figure(figsize=(max(12, 2.6 * panels), 7.8), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=(1, 1.05))
        axes, chart = top.subplots(1, panels, squeeze=False)[0], bottom.subplots()
    else:
        fig, (*axes, chart) = _figure(fig)
        top = axes[0].get_figure(root=False)  # the subfigure of the maps
    overlaps = {}
    for ax, (method, stack) in zip(axes, maps.items()):
        overlaps[method] = draw_map_with_box(ax, images[index], stack[index], tau, true_boxes[index],
                                             normalization=normalization)
    for ax, (method, predicted) in zip(axes[len(maps):], (boxes or {}).items()):
        overlaps[method] = float(iou(predicted[index], true_boxes[index]))
        ax.imshow(to_image(images[index], normalization))
        axes_off(ax)
        draw_box(ax, true_boxes[index])
        draw_box(ax, predicted[index], PREDICTION_COLOUR)
    for ax, method in zip(axes, overlaps):
        ax.set_title(f"{textwrap.fill(method, 18)}\nIoU {overlaps[method]:.2f}", fontsize=11)
    top.suptitle(f"image {index}: true box white, each method's box magenta (maps cut at {tau:.2f} x max)")
    ranking = rank_rows(rows, metric)
    names, values = zip(*ranking)
    bars = chart.barh(range(len(names)), values, color=["#d81b60"] + ["#1e88e5"] * (len(names) - 1))
    chart.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=3)
    chart.set_yticks(range(len(names)), names)
    chart.yaxis.set_inverted(True)
    chart.set_xlabel(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else " (higher is better)"))
    chart.set_title(f"ranking by {metric}: best on top")
    chart.margins(x=0.15)
    return fig, overlaps


def comparison_browser(images, maps, true_boxes, rows, normalization=None, boxes=None):
    """A slider for the image and the threshold, and a menu for the metric that ranks the methods
    (:func:`draw_comparison_frame`); every map is precomputed, so a redraw only draws, but a frame of
    every method takes longer to draw than a drag allows, so the sliders redraw on release."""
    metrics = [key for key in rows[0] if key not in ("method", "best tau")]
    index = widgets.IntSlider(value=0, min=0, max=images.shape[0] - 1, description="image", continuous_update=False,
                              layout=widgets.Layout(width="50%"))
    tau = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="threshold",
                              continuous_update=False)
    metric = widgets.Dropdown(options=metrics, value=metrics[0], description="rank by")
    screen = _Screen()

    def redraw(index, tau, metric):
        screen.show(lambda fig: draw_comparison_frame(images, maps, true_boxes, rows, index, tau, metric,
                                                      normalization, boxes, fig)[0])

    output = widgets.interactive_output(redraw, {"index": index, "tau": tau, "metric": metric})
    return widgets.VBox([widgets.HBox([index, tau, metric]), output])
