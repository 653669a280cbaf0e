"""Reading untrusted .npz files: sizes checked before allocation, no pickles."""

import io
import resource
import time
import zipfile

import numpy as np
import pytest

from eiesim.errors import WorkloadError
from eiesim.inputs.npz import read_npz


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _lying_header(shape: tuple[int, ...], dtype: str = "<i8") -> bytes:
    """A .npy header claiming ``shape`` followed by only 16 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 16


def test_round_trip(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez(path, a=np.arange(5, dtype=np.int32), b=np.array("text"))
    out = read_npz(path)
    assert out["a"].tolist() == [0, 1, 2, 3, 4] and str(out["b"]) == "text"


def test_billion_entry_claim_refused_fast_and_small(tmp_path):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("L0.indices.npy", _lying_header((10**9,)))
    assert path.stat().st_size < 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(WorkloadError, match="declares shape"):
        read_npz(path)
    assert time.perf_counter() - t0 < 1.0
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 200 * 1024


def test_pickled_object_array_refused(tmp_path):
    path = tmp_path / "pickle.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.npy", _npy_bytes(np.array([{"a": 1}], dtype=object)))
    with pytest.raises(WorkloadError, match="pickle"):
        read_npz(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(WorkloadError):
        read_npz(path)


def test_truncated_archive(tmp_path):
    path = tmp_path / "t.npz"
    np.savez_compressed(path, a=np.arange(10000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkloadError):
        read_npz(path)


def test_member_not_npy(tmp_path):
    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.npy", b"hello world, not numpy")
    with pytest.raises(WorkloadError, match="not a valid .npy"):
        read_npz(path)


def test_zip_bomb_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    big = np.zeros(50_000_000, dtype=np.uint8)  # 50 MB of zeros compresses ~1000x+
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("a.npy", _npy_bytes(big))
    with pytest.raises(WorkloadError, match="expands"):
        read_npz(path)


def test_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="no such file"):
        read_npz(tmp_path / "absent.npz")
