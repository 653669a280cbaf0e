"""Images: loading (files, bundled photos, arrays), preprocessing, choosing the network input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.io

from eiesim.errors import InputDataError, WorkloadError
from eiesim.inputs.images import load_image, preprocess
from eiesim.network.network_input import prepare_input
from eiesim.network.workload import Workload, layer_from_dense


def rgb(h: int, w: int) -> np.ndarray:
    """An image whose pixels encode their position: R = row, G = column, B = 200."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(h)[:, None]
    img[:, :, 1] = np.arange(w)[None, :]
    img[:, :, 2] = 200
    return img


def workload(shape, preprocess_dict=None, stored=None) -> Workload:
    c = shape[0]
    w = np.ones((2, c, 1, 1), np.float32) if len(shape) == 3 else np.ones((2, c), np.float32)
    kind = "conv" if len(shape) == 3 else "fc"
    layer = layer_from_dense("l", w, codebook=np.array([1.0], np.float32), kind=kind)
    return Workload("w", "test", tuple(shape), preprocess_dict, [layer], input=stored)


# -- load_image ---------------------------------------------------------------------------

def test_bundled_photos_load_offline_as_rgb8():
    img = load_image("chelsea")
    assert img.shape == (300, 451, 3) and img.dtype == np.uint8
    assert load_image("camera").shape == (512, 512, 3)  # grayscale photo, replicated
    cam = load_image("camera")
    assert np.array_equal(cam[:, :, 0], cam[:, :, 2])


def test_png_file_round_trips_exactly(tmp_path):
    img = rgb(5, 7)
    skimage.io.imsave(tmp_path / "a.png", img, check_contrast=False)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), img)
    np.testing.assert_array_equal(load_image(str(tmp_path / "a.png")), img)


def test_jpeg_and_grayscale_files(tmp_path):
    skimage.io.imsave(tmp_path / "a.jpg", rgb(16, 24), check_contrast=False)
    assert load_image(tmp_path / "a.jpg").shape == (16, 24, 3)
    gray = (np.arange(20).reshape(4, 5) * 10).astype(np.uint8)
    skimage.io.imsave(tmp_path / "g.png", gray, check_contrast=False)
    out = load_image(tmp_path / "g.png")
    assert out.shape == (4, 5, 3)
    for ch in range(3):
        np.testing.assert_array_equal(out[:, :, ch], gray)


def test_arrays_are_coerced_or_rejected():
    rgba = np.dstack([rgb(3, 4), np.full((3, 4), 9, np.uint8)])
    np.testing.assert_array_equal(load_image(rgba), rgb(3, 4))
    np.testing.assert_array_equal(load_image(rgb(3, 4).astype(np.int32)), rgb(3, 4))
    with pytest.raises(InputDataError, match="shape"):
        load_image(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(InputDataError, match="8-bit"):
        load_image(np.zeros((3, 4, 3), np.float32))
    with pytest.raises(InputDataError, match="8-bit"):
        load_image(np.full((3, 4, 3), 300, np.int32))


def test_missing_unreadable_and_unknown_inputs(tmp_path):
    with pytest.raises(InputDataError, match="no such image file") as info:
        load_image(tmp_path / "nope.png")
    assert info.value.source == str(tmp_path / "nope.png")
    with pytest.raises(InputDataError, match="bundled photo"):
        load_image("not-a-photo")
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(InputDataError, match="not a readable image"):
        load_image(tmp_path / "text.png")
    with pytest.raises(InputDataError, match="not a regular file"):
        load_image(tmp_path)
    with pytest.raises(InputDataError):
        load_image(42)


# -- preprocess -----------------------------------------------------------------------------

def test_centre_crop_bgr_mean_and_scale():
    img = rgb(6, 8)
    pre = {"crop": [2, 4], "channel_order": "BGR", "mean": [1.0, 2.0, 3.0], "scale": 255}
    x = preprocess(img, pre, (3, 2, 4))
    assert x.shape == (3, 2, 4) and x.dtype == np.float32
    # centre crop of a 6x8 image to 2x4: rows 2..3, columns 2..5
    np.testing.assert_allclose(x[0], np.full((2, 4), 200 - 1.0), rtol=1e-6)  # B first
    np.testing.assert_allclose(x[1], np.tile(np.arange(2, 6), (2, 1)) - 2.0, rtol=1e-6)  # G = column
    np.testing.assert_allclose(x[2], np.tile(np.arange(2, 4)[:, None], (1, 4)) - 3.0, rtol=1e-6)  # R = row


def test_default_range_is_zero_to_one_rgb():
    x = preprocess(rgb(2, 3), {"resize": [2, 3]}, (3, 2, 3))
    np.testing.assert_allclose(x[2], np.full((2, 3), 200 / 255), rtol=1e-6)
    np.testing.assert_allclose(x[1, 0], np.arange(3) / 255, rtol=1e-6)


def test_resize_keeps_constant_images_and_hits_the_input_size():
    img = np.full((30, 50, 3), (10, 20, 30), np.uint8)
    for anti_aliasing in (False, True):
        pre = {"resize": [16, 16], "crop": [12, 12], "scale": 255, "anti_aliasing": anti_aliasing}
        x = preprocess(img, pre, (3, 12, 12))
        assert x.shape == (3, 12, 12)
        for ch, v in enumerate((10, 20, 30)):
            np.testing.assert_allclose(x[ch], v, rtol=1e-5)
    # without resize and crop, the image is resized straight to the input
    assert preprocess(img, None, (3, 7, 9)).shape == (3, 7, 9)


def test_resize_is_bilinear_on_a_ramp():
    # Upsampling a linear ramp by 2 with half-pixel-centred bilinear interpolation keeps it linear inside.
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, :, 0] = (np.arange(4) * 40)[None, :]
    x = preprocess(img, {"resize": [8, 8], "scale": 255}, (3, 8, 8))
    inner = x[0, 0, 1:7]
    np.testing.assert_allclose(inner, [10, 30, 50, 70, 90, 110], atol=1e-4)


@pytest.mark.parametrize("pre, error, match", [
    ({"resise": [2, 2]}, WorkloadError, "unknown preprocess keys"),
    ({"channel_order": "GBR"}, WorkloadError, "channel_order"),
    ({"mean": [1, 2]}, WorkloadError, "mean"),
    ({"scale": 0}, WorkloadError, "scale"),
    ({"crop": [10, 10]}, InputDataError, "cannot centre-crop"),
    ({"resize": [5, 5]}, InputDataError, "fix the workload's preprocess"),
    ({"resize": [4, -1]}, WorkloadError, "resize"),
])
def test_bad_preprocess(pre, error, match):
    with pytest.raises(error, match=match):
        preprocess(rgb(6, 8), pre, (3, 4, 4))


def test_image_needs_three_channel_input():
    with pytest.raises(InputDataError, match="images need"):
        preprocess(rgb(4, 4), None, (1, 4, 4))


# -- prepare_input ---------------------------------------------------------------------------

def test_prepare_input_sources(tmp_path):
    stored = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    wl = workload((3, 4, 4), {"crop": [4, 4], "scale": 255}, stored)
    np.testing.assert_array_equal(prepare_input(wl, None), stored)
    arr = np.ones((3, 4, 4))
    out = prepare_input(wl, arr)
    assert out.dtype == np.float32 and np.array_equal(out, arr)
    np.save(tmp_path / "x.npy", stored * 2)
    np.testing.assert_array_equal(prepare_input(wl, tmp_path / "x.npy"), stored * 2)
    img = prepare_input(wl, rgb(6, 6))
    np.testing.assert_allclose(img[0], np.tile(np.arange(1, 5)[:, None], (1, 4)), rtol=1e-6)


def test_prepare_input_errors(tmp_path):
    wl = workload((3, 4, 4))
    with pytest.raises(InputDataError, match="--image"):
        prepare_input(wl, None)
    np.save(tmp_path / "bad.npy", np.ones((2, 2)))
    with pytest.raises(InputDataError, match="shape"):
        prepare_input(wl, tmp_path / "bad.npy")
    with open(tmp_path / "obj.npy", "wb") as fh:  # an object array needs pickle: refused
        np.lib.format.write_array(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputDataError, match="npy"):
        prepare_input(wl, tmp_path / "obj.npy")
    with pytest.raises(InputDataError, match="NaN"):
        prepare_input(wl, np.full((3, 4, 4), np.nan))
    fc = workload((12,))
    with pytest.raises(InputDataError, match="not an image"):
        prepare_input(fc, "chelsea")
    np.save(tmp_path / "v.npy", np.arange(12.0))
    np.testing.assert_array_equal(prepare_input(fc, tmp_path / "v.npy"), np.arange(12.0))


def test_squeezenet_preprocess_constant_gives_the_network_input():
    topologies = pytest.importorskip("eiesim.network.topologies")
    pre = topologies.SQUEEZENET_PREPROCESS
    json.dumps(pre)  # must be storable in the workload meta
    x = preprocess(load_image("chelsea"), pre, (3, 227, 227))
    assert x.shape == (3, 227, 227)
    rgb_order = preprocess(load_image("chelsea"), dict(pre, channel_order="RGB", mean=[0, 0, 0]), (3, 227, 227))
    # BGR channel c (mean m_c subtracted) equals RGB channel 2 - c
    for c, m in enumerate(pre["mean"]):
        np.testing.assert_allclose(x[c] + m, rgb_order[2 - c], rtol=1e-5, atol=1e-3)
