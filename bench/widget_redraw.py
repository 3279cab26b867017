"""How long each lesson widget takes to redraw when a control moves, measured in a real Jupyter kernel.

The bar of issue 22: every widget redraws in at most 250 ms at its defaults on 2 cores.
The script starts an IPython kernel (the lessons' own: inline matplotlib, the course's
style), builds every widget of lessons 00-07 with the lesson's data and models, and then,
for each control, sets its value a few times from Python, as a dragged slider does. A
change runs the widget's whole redraw in the kernel: the map when it must be computed,
the figure, and its encoding into the output that goes to the browser. Each change goes
to a value not seen before (a new image, a new threshold), so a cached map helps only
where the design means it to (a threshold over a map already computed). The median of
those changes is the control's redraw time; the browser's own drawing of the received
image is not included (a few milliseconds).

Data and models are the lessons' (stored checkpoints, the packaged EfficientNet-Lite0,
the nine photos), except lesson 07's table of methods, whose maps are made with small
settings here (the redraw only draws them; the lesson's take minutes to compute).

Writes the table between the ``widget_redraw`` markers of ``bench/README.md`` and the
result file for ``bench/summary.py`` (each control's median / 250 ms, goal <= 1).

Run: ``.venv/bin/python bench/widget_redraw.py [--repeats 5]`` (with nothing else running).
"""

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import ipywidgets
import torch

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 0.25  # seconds


def build_widgets():
    """Every lesson's widget built as its lesson builds it, {name: widget box}."""
    from helpers import augmented, boxes, cam, checkpoints, compare, data, models, rise, seeds, viz, widgets
    from helpers.device import set_seed

    set_seed(0)
    viz.use_style()
    built = {}
    shapes = data.make_shapes(16, seed=0)
    built["00 sample browser"] = widgets.sample_browser(shapes)

    lesson_01_test = data.make_shapes(1000, seed=2)
    subset = data.Shapes(*(field[:200] for field in lesson_01_test))
    predictions = {}
    for kind in ("l2", "smooth_l1", "giou"):
        labels, predicted = seeds.stored_box_model(kind).predict(subset.images)
        predictions[kind] = (labels, predicted, boxes.iou(predicted, subset.boxes))
    built["01 prediction browser"] = widgets.prediction_browser(subset, predictions)

    gap = checkpoints.load_shapes_gap("cpu")
    built["02 shift browser"] = widgets.shift_browser({"flatten + FC": seeds.stored_flatten_net(), "GAP": gap})

    test = checkpoints.shapes_gap_test_set()
    result = cam.cam(gap, test.images[:200])
    shapes_200 = data.Shapes(*(field[:200] for field in test))
    built["03 CAM browser"] = widgets.cam_browser(shapes_200, cam.upsample(result.maps, 64), result.classes[:, 0])

    pretrained = models.imagenet_model("cpu")
    photos = data.load_photos(pretrained.normalization)
    layers = ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "conv_head"]
    built["04 Grad-CAM browser, photos"] = widgets.gradcam_browser(pretrained.model, photos.images, layers,
                                                                   pretrained.categories, photos.boxes,
                                                                   pretrained.normalization)
    shape_layers = ["backbone.2", "backbone.5", "backbone.9", "backbone.12", "backbone.16", "backbone.19"]
    built["04 Grad-CAM browser, shapes"] = widgets.gradcam_browser(gap, test.images[:200], shape_layers,
                                                                   data.SHAPE_CLASSES, test.boxes[:200], ranks=6)

    warps = augmented.sample_augmentations(32, seed=0)
    cat = photos.names.index("chelsea")
    with torch.no_grad():
        photo_class = pretrained.model(photos.images[cat:cat + 1]).argmax(dim=1)
    views = augmented.grad_cam_views(pretrained.model, photos.images[cat:cat + 1], photo_class, warps, "conv_head")
    built["05 Augmented Grad-CAM browser"] = widgets.augmented_browser(photos.images[cat], views, warps,
                                                                       photos.boxes[cat], pretrained.normalization)

    example = test.images[:1]
    convergence = {n: rise.rise(gap, example, test.labels[:1, None], masks=n, seed=n, progress=False).maps[0, 0]
                   for n in (100, 500, 1000)}
    built["06 convergence browser"] = widgets.convergence_browser(test.images[0], convergence, test.boxes[0])
    built["06 RISE browser"] = widgets.rise_browser(gap, test.images[:50], test.boxes[:50])

    shapes_40 = data.Shapes(*(field[:40] for field in test))
    explained = compare.explain_all(gap, shapes_40.images, shapes_40.labels, views=4, resolution=32, masks=50,
                                    seed=0, layer="backbone.17", progress=False)
    rows = compare.score(gap, shapes_40.images, shapes_40.boxes, shapes_40.masks, explained, causal=False)
    _, regressor_boxes = seeds.stored_box_model("l2").predict(shapes_40.images)
    built["07 comparison browser"] = widgets.comparison_browser(
        shapes_40.images, {m: r.maps for m, r in explained.items()}, shapes_40.boxes, rows,
        boxes={"box regressor (lesson 01)": regressor_boxes})
    return built


def new_values(control, count):
    """``count`` values of ``control`` near its default, none equal to it (for a slider: the next steps up, or
    down where the range ends; for a selection slider: the nearest options; for a menu or toggle: the other
    options, cycled, so these may repeat)."""
    if isinstance(control, ipywidgets.Checkbox):
        return [not control.value if i % 2 == 0 else control.value for i in range(count)]
    if hasattr(control, "options"):
        options = [option[1] if isinstance(option, tuple) else option for option in control.options]
        here = options.index(control.value)
        if isinstance(control, ipywidgets.SelectionSlider):  # the neighbours, nearest first, as a drag visits them
            values = sorted((value for value in options if value != control.value),
                            key=lambda value: abs(options.index(value) - here))
        else:  # a menu: the other entries
            values = [value for value in options if value != control.value]
        return [values[i % len(values)] for i in range(count)]
    if isinstance(control, ipywidgets.FloatLogSlider):
        exponent, step = math.log10(control.value), control.step
        exponents = [exponent + k * step for k in range(1, count + 1)]
        if exponents[-1] > control.max:
            exponents = [exponent - k * step for k in range(1, count + 1)]
        return [control.base ** e for e in exponents]
    step = control.step
    values = [control.value + k * step for k in range(1, count + 1)]
    if values[-1] > control.max:
        values = [control.value - k * step for k in range(1, count + 1)]
    return values


def time_widgets(repeats):
    """In the kernel: {widget: {control: {"median", "max" (seconds), "continuous" (redraws while dragged)}}};
    a first, untimed change of each control warms up."""
    from helpers.widgets import controls

    built = build_widgets()
    timings = {}
    for name, box in built.items():
        timings[name] = {}
        for description, control in controls(box).items():
            default = control.value
            values = new_values(control, repeats + 1)
            seconds = []
            for value in values:
                start = time.perf_counter()
                control.value = value
                seconds.append(time.perf_counter() - start)
            control.value = default
            timings[name][description] = {"median": statistics.median(seconds[1:]), "max": max(seconds[1:]),
                                          "continuous": bool(getattr(control, "continuous_update", True))}
    return timings


def run_in_kernel(repeats):
    """Start the project's IPython kernel, run :func:`time_widgets` in it, and return its timings."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT))
    chunks, errors = [], []

    def collect(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            chunks.append(content["text"])
        elif message["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    try:
        code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); import widget_redraw; "
                f"print('RESULT' + json.dumps(widget_redraw.time_widgets({repeats})))")
        client.execute_interactive(code, timeout=1800, output_hook=collect)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    if errors:
        raise RuntimeError("the kernel failed:\n" + "\n".join(errors))
    text = "".join(chunks)
    return json.loads(text[text.index("RESULT") + len("RESULT"):].strip())


def markdown(timings, machine_name, repeats):
    lines = [f"{machine_name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}: median of {repeats} changes "
             f"per control (max in brackets), each to a new value; \"on release\": the control redraws when the "
             f"mouse is released, not while dragged.", "",
             "| widget | control | redraw (ms) | updates | <= 250 ms |", "|---|---|---|---|---|"]
    for widget, rows in timings.items():
        for control, row in rows.items():
            lines.append(f"| {widget} | {control} | {1e3 * row['median']:.0f} ({1e3 * row['max']:.0f}) | "
                         f"{'while dragged' if row['continuous'] else 'on release'} | "
                         f"{'yes' if row['median'] <= BUDGET else '**no**'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from timing import machine, record, write_section

    timings = run_in_kernel(args.repeats)
    device = torch.device("cpu")
    table = markdown(timings, machine(device), args.repeats)
    print(table)
    write_section("widget_redraw", table)
    ratios = [(f"widget redraw / 250 ms: {widget}, {control}", row["median"] / BUDGET, "<= 1")
              for widget, rows in timings.items() for control, row in rows.items()]
    record("widget_redraw", device, ratios, f"each control moved {args.repeats} times from its default, "
                                            "in an IPython kernel; median redraw over a 250 ms budget")


if __name__ == "__main__":
    main()
