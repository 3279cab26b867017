"""Scores for predictions against ground truth.

Explained in 01_localization_regression (accuracy, IoU, localization accuracy).
"""


def accuracy(predicted, labels):
    """Share of ``predicted`` class indices equal to ``labels`` (same shape), as a float in [0, 1]."""
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted and labels need the same shape, got {tuple(predicted.shape)} "
                         f"and {tuple(labels.shape)}")
    return (predicted == labels).float().mean().item()


def localization_accuracy(predicted, labels, ious, threshold=0.5):
    """Share of images whose class is right *and* whose box has IoU >= ``threshold`` with the truth.

    The ILSVRC localization criterion (top-1) used by OverFeat, CAM and Grad-CAM.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if not predicted.shape == labels.shape == ious.shape:
        raise ValueError(f"predicted, labels and ious need one shape, got {tuple(predicted.shape)}, "
                         f"{tuple(labels.shape)} and {tuple(ious.shape)}")
    return ((predicted == labels) & (ious >= threshold)).float().mean().item()
