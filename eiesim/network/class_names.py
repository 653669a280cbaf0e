"""Human names of a classifier's output classes: the 1000 ImageNet (ILSVRC-2012) classes.

The list ships as package data (``eiesim/data/imagenet/imagenet_classes.txt``, one name a
line, line i naming class index i; its source and licence are in PROVENANCE.md beside it).
A network whose last layer has 1000 outputs is taken to be an ImageNet classifier, as the
Deep-Compression SqueezeNet and the usual ONNX image models are; for any other number of
outputs there are no names, only class indices.
"""

from __future__ import annotations

import functools
from pathlib import Path

from eiesim.errors import UsageError

#: The names file (package data).
IMAGENET_CLASSES_FILE = Path(__file__).resolve().parents[1] / "data" / "imagenet" / "imagenet_classes.txt"
#: How many classes ImageNet-1k has.
IMAGENET_CLASS_COUNT = 1000


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names, by class index; UsageError if the installation lacks the file."""
    try:
        lines = IMAGENET_CLASSES_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise UsageError("this eiesim installation lacks its ImageNet class names; reinstall eiesim",
                         IMAGENET_CLASSES_FILE) from None
    if len(lines) != IMAGENET_CLASS_COUNT or not all(lines):
        raise UsageError(f"expected {IMAGENET_CLASS_COUNT} non-empty lines of class names", IMAGENET_CLASSES_FILE)
    return tuple(lines)


def class_names_for(num_classes: int) -> tuple[str, ...] | None:
    """The names of a classifier with ``num_classes`` outputs: ImageNet's for 1000, else None (indices only)."""
    return imagenet_class_names() if num_classes == IMAGENET_CLASS_COUNT else None
