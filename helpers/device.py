"""Where tensors live and how runs repeat: device choice and seeding.

Explained in 00_start_here.
"""

import os
import random

import numpy as np
import torch

#: Environment variable that overrides the automatic device choice (e.g. ``cpu``).
DEVICE_ENV = "HELPERS_DEVICE"


def get_device(device=None):
    """Return the device the lessons compute on.

    The first GPU when CUDA is available, else the CPU. An explicit ``device``
    (a string such as ``"cpu"`` or ``"cuda:0"``, or a :class:`torch.device`)
    wins over the automatic choice, and so does the environment variable
    ``HELPERS_DEVICE`` when no argument is given.

    Args:
        device: ``None`` for the automatic choice, or the device to use.

    Returns:
        torch.device

    Raises:
        TypeError: ``device`` is neither ``None``, a string nor a torch.device.
        ValueError: the name is not a device, or a GPU is asked for and there is none.
    """
    if device is None:
        device = os.environ.get(DEVICE_ENV) or ("cuda:0" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be None, a str or a torch.device, got {type(device).__name__}")
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"not a device name: {device!r} (expected e.g. 'cpu' or 'cuda:0')") from error
    if device.type == "cuda":
        count = torch.cuda.device_count()
        index = 0 if device.index is None else device.index
        if index >= count:
            raise ValueError(f"asked for {device}, but this machine has {count} CUDA device(s)")
    return device


def set_seed(seed, deterministic=True):
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so that a run repeats.

    With ``deterministic=True`` PyTorch is also told to pick deterministic
    kernels (cuDNN autotuning off, ``torch.use_deterministic_algorithms`` with a
    warning, not an error, for operations that have no deterministic version)
    and to compute in full float32 on GPUs (TF32 off), so that GPU results agree
    with the CPU's to float tolerance.

    Args:
        seed: an int in [0, 2**32 - 1] (NumPy's range).
        deterministic: also switch PyTorch to deterministic algorithms.

    Raises:
        TypeError: ``seed`` is not an int (a bool or a float is refused too).
        ValueError: ``seed`` is outside [0, 2**32 - 1].
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32 - 1], got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.use_deterministic_algorithms(True, warn_only=True)
