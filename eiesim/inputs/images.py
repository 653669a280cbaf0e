"""Images as network inputs: load (file, bundled photo or array), then preprocess as the workload says.

``load_image`` returns an (H, W, 3) uint8 RGB array from an image file (PNG, JPEG,
... read by scikit-image/imageio), from the name of a photo bundled with
scikit-image (offline; e.g. "chelsea", "coffee"), or from an array.
``preprocess`` applies a workload's ``input.preprocess`` dict (given as a dict and an
input shape: nothing here knows a workload); ``eiesim.network.network_input.prepare_input``
picks the network input from the workload's stored input, an array, a ``.npy`` file or
an image.

Preprocess keys (all optional; docs/fixed-point.md and docs/workload-format.md):

* ``resize`` [h, w]: bilinear resize of the whole image (aspect ratio not kept,
  as Caffe's ImageNet data preparation does); ``anti_aliasing`` (bool, default
  false: Caffe resized with plain bilinear interpolation);
* ``crop`` [h, w]: centre crop;
* ``channel_order`` "RGB" (default) or "BGR";
* ``scale``: pixel value range, e.g. 255 gives pixels in 0..255 (default 1);
* ``mean``: per-channel value subtracted after scaling, in the output channel order;
* ``std``: per-channel divisor applied after the mean (default 1: torchvision's
  ``Normalize(mean, std)`` is ``scale`` 1, ``mean`` and ``std``).

``PREPROCESS_PRESETS`` names common settings (``--preprocess imagenet``).

Without ``resize`` and ``crop`` the image is resized straight to the input size.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import InputDataError, WorkloadError
from eiesim.inputs.memory import check_memory

#: Photos shipped inside scikit-image (loaded offline through skimage.data).
BUNDLED_PHOTOS = (
    "astronaut", "brick", "camera", "cat", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text",
)
PREPROCESS_KEYS = ("resize", "crop", "channel_order", "mean", "scale", "std", "anti_aliasing")
#: Named preprocessings: torchvision's ImageNet normalisation (RGB in 0..1, then (x - mean) / std) and
#: Caffe's ImageNet models (BGR in 0..255 minus the mean pixel). The image is resized to the input size.
PREPROCESS_PRESETS: dict[str, dict[str, Any]] = {
    "imagenet": {"channel_order": "RGB", "scale": 1.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "caffe-imagenet": {"channel_order": "BGR", "scale": 255.0, "mean": [104.0, 117.0, 123.0]},
    "none": {},
}
#: Files a folder given as ``--image DIR`` contributes (in name order).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy")


def expand_image_specs(spec: Any) -> list[Any]:
    """The list of inputs a run or sweep simulates, one simulation each.

    ``None`` -> ``[None]`` (the workload's own input); a path, photo name or array -> itself;
    a folder -> its image files (``IMAGE_SUFFIXES``) in name order; a list or tuple -> each
    item expanded in turn. The same image twice is an error (it would weigh double in the
    mean), as is a folder without images, and so is an empty list (it names no image; it
    does not mean the workload's own input, which is ``None``).
    """
    if spec is None:
        return [None]
    items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not items:
        raise InputDataError("the list of images is empty; give at least one image, or None for the "
                             "workload's own input")
    out: list[Any] = []
    seen: set[str] = set()
    for item in items:
        if item is None or isinstance(item, np.ndarray):
            out.append(item)
            continue
        if not isinstance(item, (str, Path)):
            raise InputDataError(f"an image must be a path, a folder, a bundled photo name or an array, "
                                 f"got {type(item).__name__}")
        path = Path(item)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputDataError(f"the folder holds no image files ({', '.join(IMAGE_SUFFIXES)})", path)
            expanded = [str(f) for f in files]
        else:
            expanded = [str(item)]
        for name in expanded:
            ident = str(Path(name).resolve()) if Path(name).exists() else name
            if ident in seen:
                raise InputDataError("this image is given twice; each image is one sample of the mean, "
                                     "so give each once", name)
            seen.add(ident)
            out.append(name)
    return out


def image_label(spec: Any) -> str:
    """How an input is named in reports: the path or photo name, "workload input", or "array [shape]"."""
    if spec is None:
        return "workload input"
    if isinstance(spec, np.ndarray):
        return f"array {list(spec.shape)}"
    return str(spec)


def load_image(spec: str | Path | np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image from a file path, a bundled photo name, or an array.

    Grayscale images are replicated to three channels, an alpha channel is dropped,
    16-bit images are reduced to 8 bits. Raises InputDataError otherwise.
    """
    if isinstance(spec, np.ndarray):
        return _as_rgb8(spec, None)
    if not isinstance(spec, str | Path):
        raise InputDataError(f"an image must be a file path, a bundled photo name or an array, got {type(spec).__name__}")
    path = Path(spec)
    if path.is_file():
        return _as_rgb8(_read_file(path), path)
    if isinstance(spec, str) and spec in BUNDLED_PHOTOS:
        import skimage.data

        return _as_rgb8(getattr(skimage.data, spec)(), spec)
    if path.exists():
        raise InputDataError("not a regular file", path)
    raise InputDataError(f"no such image file, and not a bundled photo (one of: {', '.join(BUNDLED_PHOTOS)})", spec)


def declared_image_bytes(path: Path) -> tuple[int, str] | None:
    """Bytes decoding ``path`` and preparing it as an input would need, from its header alone
    (Pillow reads only the header on open; TIFF also through tifffile), with a description;
    None when neither can read the header (the decoder then reports the file)."""
    image_module: Any  # PIL.Image, or None without Pillow
    try:
        from PIL import Image as image_module
    except ImportError:  # pragma: no cover - Pillow comes with scikit-image
        image_module = None
    if image_module is not None:
        Image = image_module
        old_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # measure instead of Pillow's own warning/bomb error
        try:
            with Image.open(path) as im:
                w, h = im.size
                frames = int(getattr(im, "n_frames", 1) or 1)
                bands = len(im.getbands())
                sample = 2 if ";16" in im.mode or im.mode in ("I", "F") else 1
                return w * h * frames * (bands * sample + PREPARE_BYTES_PER_PIXEL), f"{w}x{h} pixels" + (
                    f" x {frames} frames" if frames > 1 else "")
        except Exception:  # noqa: BLE001 -- not a format Pillow knows: try tifffile, then the decoder
            pass
        finally:
            Image.MAX_IMAGE_PIXELS = old_limit
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            total = 0
            for page in tif.pages:
                if page.dtype is None:  # a page without a sample type: left to the decoder, like any unread header
                    return None
                total += math.prod(page.shape) * page.dtype.itemsize
            first = tif.pages[0].shape
            pixels = math.prod(first[:2]) * len(tif.pages)
            return total + pixels * PREPARE_BYTES_PER_PIXEL, f"{'x'.join(map(str, first))} per page"
    except Exception:  # noqa: BLE001
        return None


#: Bytes per pixel that preparing an input adds to the decoded image (float64 RGB, resized copy).
PREPARE_BYTES_PER_PIXEL = 48


def _read_file(path: Path) -> np.ndarray:
    import skimage.io

    declared = declared_image_bytes(path)
    if declared is not None:
        check_memory(declared[0], f"decoding this {declared[1]} image", path)
    try:
        with warnings.catch_warnings():  # imageio probes every plugin on unknown files; some warn of deprecation
            warnings.simplefilter("ignore", DeprecationWarning)
            return np.asarray(skimage.io.imread(path))
    except MemoryError:
        raise
    except Exception as exc:  # imageio/Pillow plugins raise many unrelated types for undecodable files
        raise InputDataError("not a readable image file (expected PNG, JPEG, TIFF, BMP or GIF, or a .npy array "
                             f"of the input shape; the decoder said {exc.__class__.__name__})", path) from None


def _as_rgb8(img: np.ndarray, source: str | Path | None) -> np.ndarray:
    """Coerce an image array to (H, W, 3) uint8."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise InputDataError(f"an image must be H x W (grayscale) or H x W x 3 (RGB), got shape {img.shape}", source)
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if img.dtype.kind in "iu" and img.size and 0 <= int(img.min()) and int(img.max()) <= 255:
        return img.astype(np.uint8)
    raise InputDataError(f"image pixels must be 8-bit (0..255) integers, got {img.dtype}", source)


def _pair(pre: dict[str, Any], key: str) -> tuple[int, int] | None:
    value = pre.get(key)
    if value is None:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise WorkloadError(f"preprocess {key!r} must be [h, w] of positive integers, got {value!r}")
    return int(value[0]), int(value[1])


def preprocess(image: np.ndarray, preprocess: dict[str, Any] | None, input_shape: tuple[int, ...]) -> np.ndarray:
    """(H, W, 3) uint8 RGB image -> float32 (3, H', W') network input, as ``preprocess`` describes."""
    from skimage.transform import resize as sk_resize

    pre = dict(preprocess or {})
    unknown = sorted(set(pre) - set(PREPROCESS_KEYS))
    if unknown:
        raise WorkloadError(f"unknown preprocess keys {unknown}; valid keys: {list(PREPROCESS_KEYS)}")
    if len(input_shape) != 3 or input_shape[0] != 3:
        raise InputDataError(f"images need a (3, H, W) network input, but this workload takes {list(input_shape)}")
    img = _as_rgb8(image, None).astype(np.float64) / 255.0
    resize, crop = _pair(pre, "resize"), _pair(pre, "crop")
    anti_aliasing = pre.get("anti_aliasing", False)
    if not isinstance(anti_aliasing, bool):
        raise WorkloadError(f"preprocess 'anti_aliasing' must be true or false, got {anti_aliasing!r}")
    if resize is None and crop is None:
        resize = (int(input_shape[1]), int(input_shape[2]))
    if resize is not None and resize != img.shape[:2]:
        img = sk_resize(img, resize, order=1, mode="edge", anti_aliasing=anti_aliasing, preserve_range=True)
    if crop is not None:
        h, w = img.shape[:2]
        if crop[0] > h or crop[1] > w:
            raise InputDataError(f"cannot centre-crop {crop[0]}x{crop[1]} from a {h}x{w} image")
        y0, x0 = (h - crop[0]) // 2, (w - crop[1]) // 2
        img = img[y0:y0 + crop[0], x0:x0 + crop[1]]
    if img.shape[:2] != tuple(input_shape[1:]):
        raise InputDataError(
            f"preprocessing gives a {img.shape[0]}x{img.shape[1]} image but the network takes "
            f"{input_shape[1]}x{input_shape[2]}; fix the workload's preprocess 'resize'/'crop'")
    order = pre.get("channel_order", "RGB")
    if order not in ("RGB", "BGR"):
        raise WorkloadError(f"preprocess 'channel_order' must be 'RGB' or 'BGR', got {order!r}")
    if order == "BGR":
        img = img[:, :, ::-1]
    scale = pre.get("scale", 1)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < float("inf"):
        raise WorkloadError(f"preprocess 'scale' must be a positive number, got {scale!r}")
    img = img * float(scale)
    mean = pre.get("mean", [0.0, 0.0, 0.0])
    if (not isinstance(mean, list | tuple) or len(mean) != 3
            or not all(isinstance(m, int | float) and not isinstance(m, bool) and np.isfinite(m) for m in mean)):
        raise WorkloadError(f"preprocess 'mean' must be three numbers (one per channel), got {mean!r}")
    img = img - np.asarray(mean, dtype=np.float64)
    std = pre.get("std", [1.0, 1.0, 1.0])
    if (not isinstance(std, list | tuple) or len(std) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf") for v in std)):
        raise WorkloadError(f"preprocess 'std' must be three positive numbers (one per channel), got {std!r}")
    img = img / np.asarray(std, dtype=np.float64)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
