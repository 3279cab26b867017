"""Interactive figures for the lessons, built with ipywidgets.

Each widget calls a plain drawing function on every change; the tests call that
function directly, so a widget's picture is checked without a browser.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .data import SHAPE_CLASSES
from .viz import draw_prediction, draw_sample


def draw_browser_frame(shapes, index, show_mask=True):
    """The picture the sample browser shows for image ``index``: a figure sized for a projector."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
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

    def redraw(index, show_mask):
        draw_browser_frame(shapes, index, show_mask)
        plt.show()

    output = widgets.interactive_output(redraw, {"index": index, "show_mask": show_mask})
    return widgets.VBox([widgets.HBox([index, show_mask]), output])


def draw_prediction_frame(shapes, predictions, variant, index):
    """The picture the prediction browser shows: test image ``index`` under the model ``variant``.

    ``predictions[variant]`` is ``(labels (N,), boxes (N, 4) xyxy pixels, ious (N,))``.
    """
    labels, boxes, ious = predictions[variant]
    truth, guess = SHAPE_CLASSES[int(shapes.labels[index])], SHAPE_CLASSES[int(labels[index])]
    verdict = "right" if truth == guess and ious[index] >= 0.5 else "wrong"
    fig, ax = plt.subplots(figsize=(5.5, 5.8))
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

    def redraw(variant, index):
        draw_prediction_frame(shapes, predictions, variant, index)
        plt.show()

    output = widgets.interactive_output(redraw, {"variant": variant, "index": index})
    return widgets.VBox([index, variant, output])
