"""Figures for the lessons: images, boxes, masks, grids. The only module that converts to NumPy.

One style for every lesson: large fonts and figures that read from the back of a
lecture room. Boxes follow the pixel-edge convention of :mod:`helpers.data`.
"""

import matplotlib.patheffects as effects
import matplotlib.pyplot as plt
import torch

from .boxes import box_from_heatmap, iou
from .data import SHAPE_CLASSES

#: Matplotlib settings for a projector: applied by :func:`use_style`.
STYLE = {
    "figure.dpi": 100,
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "figure.titlesize": 16,
    "image.interpolation": "nearest",
}
BOX_COLOURS = ("#ffffff", "#ffdd00")  # first and second object
PREDICTION_COLOUR = "#ff3df5"  # predicted boxes


def use_style():
    """Apply the course's matplotlib style (large fonts, readable on a projector)."""
    plt.rcParams.update(STYLE)


def axes_off(ax):
    """Hide an image's axes: no frame, no ticks, and no tick machinery built behind them (placing a title
    otherwise makes matplotlib lay out ticks nobody sees: about a tenth of a widget's redraw)."""
    ax.set_axis_off()
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)


def to_image(image, normalization=None):
    """A (3, H, W) tensor as an (H, W, 3) NumPy array in [0, 1] for ``imshow``.

    ``normalization`` (a :class:`helpers.data.Normalization`) is undone first.
    """
    image = image.detach().float().cpu()
    if normalization is not None:
        image = normalization.undo(image.unsqueeze(0))[0]
    return image.clamp(0, 1).permute(1, 2, 0).numpy()


def draw_box(ax, box, colour="#ffffff", label=None):
    """Draw an ``xyxy`` pixel box; pixel edges sit at half-integers in ``imshow`` coordinates."""
    x1, y1, x2, y2 = (float(v) for v in box)
    outline = [effects.withStroke(linewidth=4, foreground="black")]  # visible on light and dark images
    ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=2,
                               path_effects=outline))
    if label:
        ax.text(x1 - 0.5, y1 - 1.5, label, color="black", fontsize=10, va="bottom",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 1})


def draw_mask_outline(ax, mask, colour="#00e5ff"):
    """Outline a boolean (H, W) mask."""
    ax.contour(mask.detach().cpu().numpy().astype(float), levels=[0.5], colors=[colour], linewidths=1.2)


def draw_sample(ax, shapes, index, show_mask=True):
    """One cluttered-shapes image with its box(es), mask outline(s) and class name(s) in the title."""
    ax.imshow(to_image(shapes.images[index]))
    labels, boxes, masks = shapes.labels[index], shapes.boxes[index], shapes.masks[index]
    if labels.dim() == 0:  # one object per image
        labels, boxes, masks = labels[None], boxes[None], masks[None]
    for j, (box, mask) in enumerate(zip(boxes, masks)):
        draw_box(ax, box, BOX_COLOURS[j % len(BOX_COLOURS)])
        if show_mask:
            draw_mask_outline(ax, mask)
    ax.set_title(" + ".join(SHAPE_CLASSES[int(k)] for k in labels))
    axes_off(ax)


def draw_prediction(ax, image, true_boxes, predicted_box, title):
    """An image with its true box(es) (white, then yellow) and a predicted box (magenta)."""
    ax.imshow(to_image(image))
    for j, box in enumerate(true_boxes.reshape(-1, 4)):
        draw_box(ax, box, BOX_COLOURS[j % len(BOX_COLOURS)])
    draw_box(ax, predicted_box, PREDICTION_COLOUR)
    ax.set_title(title, fontsize=11)
    axes_off(ax)


def show_predictions(images, true_boxes, predicted_boxes, titles, cols=6, title="Predictions"):
    """A grid of :func:`draw_prediction` panels: true boxes white (and yellow), predictions magenta."""
    count = images.shape[0]
    fig, axes = _grid(count, cols, cell=2.6)
    for index, ax in zip(range(count), axes):
        draw_prediction(ax, images[index], true_boxes[index], predicted_boxes[index], titles[index])
    fig.suptitle(title)
    return fig


def plot_training(history, losses, scores, title="Training"):
    """Two panels per epoch: training losses (log scale) and held-out scores in [0, 1].

    ``losses`` and ``scores`` map a legend label to a key of the
    :class:`helpers.train.History`, e.g. ``{"cross-entropy": "train ce"}``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
    for ax, curves in ((left, losses), (right, scores)):
        for label, key in curves.items():
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    left.set(ylabel="training loss (epoch mean)", yscale="log", title="Training losses")
    right.set(ylabel="held-out score", ylim=(0, 1), title="Held-out scores")
    fig.suptitle(title)
    return fig


def plot_curves(x, curves, xlabel, ylabel="accuracy", title="", chance=None, ax=None):
    """One line per entry of ``curves`` (label -> values at ``x``), markers on the measured points.

    ``chance`` draws a dashed horizontal line at that value (e.g. 1 / number of classes).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    for label, values in curves.items():
        ax.plot(x, values, marker="o", label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label="chance")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def draw_probabilities(ax, probabilities, truth, title, classes=SHAPE_CLASSES):
    """Horizontal bars of one image's class probabilities; the true class's bar is green, the others grey."""
    values = probabilities.detach().float().cpu().tolist()
    colours = ["#2ca02c" if i == truth else "#9e9e9e" for i in range(len(classes))]
    ax.barh(range(len(classes)), values, color=colours)
    ax.set_yticks(range(len(classes)), classes)
    ax.yaxis.set_inverted(True)  # first class on top
    ax.set(xlim=(0, 1), xlabel="probability", title=title)


def colourize(values, cmap="jet"):
    """Values (H, W) in [0, 1] as the colours (H, W, 3) of matplotlib's colour map ``cmap`` (its table of 256
    entries, value v -> entry min(floor(256 v), 255), as ``imshow`` does); NaN is drawn as 0."""
    table = torch.as_tensor(plt.get_cmap(cmap)(torch.linspace(0, 1, 256).numpy())[:, :3], dtype=torch.float32)
    index = (values.detach().float().cpu().nan_to_num(0.0).clamp(0, 1) * 256).long().clamp(max=255)
    return table[index]


def rescale(heatmap):
    """A map's values moved to [0, 1] by its minimum and maximum (all zeros for a flat map)."""
    heatmap = heatmap.detach().float().cpu()
    span = heatmap.max() - heatmap.min()
    return (heatmap - heatmap.min()) / span if span > 0 else torch.zeros_like(heatmap)


def overlay(image, heatmap, alpha=0.5, normalization=None, cmap="jet"):
    """The picture of a heat-map laid over an image, as (H, W, 3) in [0, 1] for ``imshow``:
    ``(1 - alpha) image + alpha colours(rescaled map)``, the map bilinearly resized to the image if it differs.

    One picture instead of two layers: matplotlib then resamples one image for the screen, not two (a tenth
    of a widget's redraw)."""
    heatmap = heatmap.detach().float().cpu()
    if heatmap.shape != image.shape[-2:]:
        heatmap = torch.nn.functional.interpolate(heatmap[None, None], size=tuple(image.shape[-2:]), mode="bilinear",
                                                  align_corners=False)[0, 0]
    picture = torch.from_numpy(to_image(image, normalization))
    return ((1 - alpha) * picture + alpha * colourize(rescale(heatmap), cmap)).numpy()


def draw_heatmap(ax, image, heatmap, alpha=0.5, normalization=None, cmap="jet"):
    """An image with a heat-map (H, W) laid over it (:func:`overlay`), the map rescaled to [0, 1] for the colours."""
    ax.imshow(overlay(image, heatmap, alpha, normalization, cmap), interpolation="antialiased")
    axes_off(ax)


def show_class_maps(image, maps, names, title, normalization=None):
    """The image and one raw map per class on its feature grid, one shared colour scale centred on zero.

    Red cells vote for the class, blue cells against it; ``names`` label the panels.
    """
    maps = maps.detach().float().cpu()
    count = maps.shape[0]
    fig, axes = plt.subplots(1, count + 1, figsize=(2.6 * (count + 1), 3.4), layout="constrained")
    axes[0].imshow(to_image(image, normalization), interpolation="antialiased")
    axes[0].set_title("image")
    limit = float(maps.abs().max())
    for ax, heatmap, name in zip(axes[1:], maps, names):
        shown = ax.imshow(heatmap.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name)
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes[1:].tolist(), shrink=0.8, label="M_c(x, y)")
    fig.suptitle(title)
    return fig


def show_heatmaps(images, heatmaps, titles, true_boxes=None, predicted_boxes=None, cols=6, title="Heat-maps",
                  normalization=None, cell=2.4):
    """A grid of images with their heat-maps laid over; true boxes white, boxes from the maps magenta."""
    count = images.shape[0]
    fig, axes = _grid(count, cols, cell=cell)
    for index, ax in zip(range(count), axes):
        draw_heatmap(ax, images[index], heatmaps[index], normalization=normalization)
        if true_boxes is not None:
            draw_box(ax, true_boxes[index])
        if predicted_boxes is not None:
            draw_box(ax, predicted_boxes[index], PREDICTION_COLOUR)
        ax.set_title(titles[index], fontsize=10)
    fig.suptitle(title)
    return fig


def _grid(count, cols, cell=2.4):
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, (cell + 0.4) * rows + 0.5), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    return fig, axes.flat


def show_shapes(shapes, count=16, cols=8, title="Cluttered shapes: box (white) and mask outline (cyan)"):
    """A grid of the first ``count`` images of a :class:`helpers.data.Shapes` batch."""
    count = min(count, shapes.images.shape[0])
    fig, axes = _grid(count, cols)
    for index, ax in zip(range(count), axes):
        draw_sample(ax, shapes, index)
    fig.suptitle(title)
    return fig


def show_photos(photos, normalization=None, captions=None, cols=3, title="Photos and their hand-checked boxes"):
    """The photos with their boxes; ``captions`` (one string per photo) replace the names as titles."""
    count = photos.images.shape[0]
    fig, axes = _grid(count, cols, cell=3.4)
    for index, ax in zip(range(count), axes):
        ax.imshow(to_image(photos.images[index], normalization), interpolation="antialiased")
        draw_box(ax, photos.boxes[index])
        ax.set_title(photos.names[index] if captions is None else captions[index], fontsize=11)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


def top_k_captions(probabilities, categories, k=3):
    """One caption per row of ``probabilities`` (B, classes): the top-k names and probabilities."""
    values, indices = torch.topk(probabilities.detach().cpu(), k, dim=1)
    return ["\n".join(f"{categories[int(i)]} {float(v):.2f}" for v, i in zip(row_v, row_i))
            for row_v, row_i in zip(values, indices)]



def as_jpeg(fig, quality=85):
    """Close ``fig`` and return it as a JPEG for display: photos stored as PNG make notebooks heavy.

    The figure is drawn once on an Agg canvas at its own dpi and its pixels go straight to
    Pillow's encoder: the picture ``savefig(format="jpeg")`` makes of a figure whose layout
    is settled, in about two thirds of the time (``savefig`` draws twice when a layout
    engine is set, and converts the pixels on the way; the figures here are opaque).
    """
    from io import BytesIO

    from IPython.display import Image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image as Picture

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    buffer = BytesIO()
    width, height = canvas.get_width_height(physical=True)
    Picture.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB").save(
        buffer, format="jpeg", quality=quality)
    plt.close(fig)
    return Image(data=buffer.getvalue(), format="jpeg")


def format_table(rows, digits=3, best=None):
    """Rows (dicts) as an aligned text table; floats rounded to ``digits``, a missing entry shown as "-".

    The columns are the keys of all rows in order of appearance. ``best`` {column:
    "max" or "min"} puts a star after the best value of those columns (all of them if tied).
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    stars = {}
    for column, direction in (best or {}).items():
        values = [row[column] for row in rows if isinstance(row.get(column), (int, float))]
        if values:
            stars[column] = max(values) if direction == "max" else min(values)

    def cell(row, column):
        value = row.get(column, "-")
        text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        return text + " *" if column in stars and value == stars[column] else text

    texts = [[cell(row, c) for c in columns] for row in rows]
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(t.ljust(w) for t, w in zip(text, widths)) for text in texts]
    lines = [line.rstrip() for line in lines]
    return "\n".join(lines)


#: Metrics of lesson 07's table where a lower value is better; every other one ranks higher first.
LOWER_IS_BETTER = ("deletion AUC", "s / image")


def rank_rows(rows, metric):
    """``(method, value)`` pairs of the table ``rows`` that have ``metric``, best first (see :data:`LOWER_IS_BETTER`)."""
    scored = [(row["method"], row[metric]) for row in rows if row.get(metric) is not None]
    if not scored:
        raise ValueError(f"no row has the metric {metric!r}")
    return sorted(scored, key=lambda pair: pair[1], reverse=metric not in LOWER_IS_BETTER)


def draw_map_with_box(ax, image, heatmap, tau, true_box=None, alpha=0.5, normalization=None):
    """``heatmap`` (H, W) over the image, the map's box at ``tau`` x its maximum magenta (the CAM paper's box:
    largest connected region) and the true box white if given; returns the box's IoU with it (or None)."""
    box = box_from_heatmap(heatmap.detach()[None], tau)[0]
    draw_heatmap(ax, image, heatmap, alpha=alpha, normalization=normalization)
    if true_box is not None:
        draw_box(ax, true_box)
    draw_box(ax, box, PREDICTION_COLOUR)
    return None if true_box is None else float(iou(box, true_box))


def show_method_grid(images, maps, true_boxes=None, tau=0.5, normalization=None, cell=2.5,
                     title="The same images under every method"):
    """One row per method of ``maps`` {method: (N, H, W)}, one column per image.

    Each panel (:func:`draw_map_with_box`): the map over the image, the map's box at
    ``tau`` x its maximum magenta, and the true box white with the IoU in the title if given.
    """
    count = images.shape[0]
    fig, axes = plt.subplots(len(maps), count, figsize=(cell * count, (cell + 0.35) * len(maps) + 0.6),
                             squeeze=False, layout="constrained")
    for row, (method, stack) in zip(axes, maps.items()):
        for index, ax in enumerate(row):
            truth = None if true_boxes is None else true_boxes[index]
            overlap = draw_map_with_box(ax, images[index], stack[index], tau, truth, normalization=normalization)
            label = method if index == 0 else ""
            ax.set_title(label if overlap is None else f"{label}  IoU {overlap:.2f}".strip(), fontsize=10, loc="left")
    fig.suptitle(title)
    return fig


def plot_metric_bars(rows, metrics, title="", cols=3):
    """One bar chart per metric: the methods of ``rows`` ranked best first (:func:`rank_rows`), one colour each."""
    methods = list(dict.fromkeys(row["method"] for row in rows))
    colours = dict(zip(methods, plt.get_cmap("tab10").colors))
    fig, axes = _grid(len(metrics), cols, cell=4.2)
    for ax, metric in zip(axes, metrics):
        names, values = zip(*rank_rows(rows, metric))
        bars = ax.barh(range(len(names)), values, color=[colours[n] for n in names])
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=2, fontsize=9)
        ax.set_yticks(range(len(names)), names, fontsize=9)
        ax.invert_yaxis()
        ax.margins(x=0.2)
        ax.set_title(f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)", fontsize=11)
    fig.suptitle(title)
    return fig
