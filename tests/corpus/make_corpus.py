"""Generate the malformed-input corpus (tests/corpus/*): run `python tests/corpus/make_corpus.py`.

Every file here is a small, hand-made hostile or broken input. The test
``tests/test_hostile_inputs.py`` feeds each one to the command that reads it and
requires the clean error: exit code 2, one line on stderr naming the file, no
traceback, no output written. The files are generated (deterministically) so a
reader can see exactly what is wrong with each; none is derived from the
licensed model file.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from eiesim.network.workload import NETWORK_INPUT, Pool, Workload, layer_from_dense  # noqa: E402
from eiesim.network.workload_file import save_workload


def base_workload() -> Workload:
    """A valid two-layer network (conv + pool, then fc) to mutate."""
    rng = np.random.default_rng(7)
    cb1 = np.array([-0.5, -0.25, 0.25, 0.5], np.float32)
    w1 = cb1[rng.integers(0, 4, (4, 2, 3, 3))] * (rng.random((4, 2, 3, 3)) < 0.5)
    conv = layer_from_dense("conv", w1, codebook=cb1, padding=(1, 1), pool=Pool("max", 2, 2, True))
    w2 = cb1[rng.integers(0, 4, (3, 16))] * (rng.random((3, 16)) < 0.5)
    fc = layer_from_dense("fc", w2, codebook=cb1, kind="fc", inputs=("conv",), relu=False)
    return Workload("tiny", "corpus base", (2, 4, 4), None, [conv, fc],
                    input=rng.random((2, 4, 4)).astype(np.float32))


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def members_of(wl: Workload) -> dict[str, bytes]:
    tmp = HERE / "_base.npz"
    save_workload(wl, tmp)
    with zipfile.ZipFile(tmp) as zf:
        out = {i.filename[:-4]: zf.read(i) for i in zf.infolist()}
    tmp.unlink()
    return out


def write_members(name: str, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(HERE / name, "w") as zf:
        for key in sorted(members):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, members[key])


def variant(name: str, **changes: np.ndarray | bytes | None) -> None:
    members = members_of(base_workload())
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            members.pop(key, None)
        else:
            members[key] = value if isinstance(value, bytes) else npy(value)
    write_members(name, members)


def meta_variant(name: str, edit) -> None:
    meta = base_workload().to_meta()
    edit(meta)
    variant(name, meta=np.array(json.dumps(meta)))


def lying_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 16


def make_workloads() -> None:
    (HERE / "wl-empty-file.npz").write_bytes(b"")
    (HERE / "wl-not-a-zip.npz").write_text("this is plain text, not an npz archive\n")
    base = HERE / "_ok.npz"
    save_workload(base_workload(), base)
    data = base.read_bytes()
    base.unlink()
    (HERE / "wl-truncated.npz").write_bytes(data[: len(data) // 2])
    variant("wl-missing-format.npz", format=None)
    variant("wl-wrong-format.npz", format=np.array("some-other-tool"))
    variant("wl-version-2.npz", version=np.array(2))
    variant("wl-meta-not-json.npz", meta=np.array("{not json"))
    variant("wl-meta-is-list.npz", meta=np.array("[1, 2, 3]"))
    meta_variant("wl-meta-no-layers.npz", lambda m: m.pop("layers"))
    meta_variant("wl-layers-empty.npz", lambda m: m.update(layers=[]))
    meta_variant("wl-layer-missing-relu.npz", lambda m: m["layers"][0].pop("relu"))
    meta_variant("wl-layer-kind-lstm.npz", lambda m: m["layers"][0].update(kind="lstm"))
    meta_variant("wl-fc-with-kernel.npz", lambda m: m["layers"][1].update(kernel=[3, 3]))
    meta_variant("wl-negative-channels.npz", lambda m: m["layers"][0].update(in_channels=-2))
    meta_variant("wl-unknown-input.npz", lambda m: m["layers"][1].update(inputs=["nowhere"]))
    meta_variant("wl-channels-mismatch.npz", lambda m: m["layers"][1].update(in_channels=17))
    meta_variant("wl-duplicate-names.npz", lambda m: m["layers"][1].update(name="conv"))
    meta_variant("wl-pool-too-big.npz", lambda m: m["layers"][0].update(pool={"kind": "max", "kernel": 9, "stride": 2, "ceil_mode": True}))
    meta_variant("wl-input-shape-bad.npz", lambda m: m["input"].update(shape=[2, 4]))
    meta_variant("wl-fc-inputs-mismatch.npz", lambda m: m["layers"][1].update(inputs=["conv", "input"]))
    spatial = base_workload()
    cb = np.array([-0.5, 0.5], np.float32)
    spatial.layers[1] = layer_from_dense("mix", cb[np.arange(18).reshape(3, 6) % 2], codebook=cb,
                                         inputs=("conv", NETWORK_INPUT))  # (4,2,2) ++ (2,4,4): sizes differ
    save_workload(spatial, HERE / "wl-concat-spatial-mismatch.npz")
    wl = base_workload()
    ip = wl.layers[0].indptr.copy()
    ip[2], ip[3] = ip[3], ip[2]
    variant("wl-indptr-not-monotone.npz", L0__indptr=ip)
    variant("wl-indptr-wrong-length.npz", L0__indptr=wl.layers[0].indptr[:-1])
    variant("wl-indptr-2d.npz", L0__indptr=wl.layers[0].indptr.reshape(1, -1))
    idx = wl.layers[0].indices.astype(np.int32).copy()
    idx[0] = 10_000
    variant("wl-index-out-of-range.npz", L0__indices=idx)
    idx = wl.layers[0].indices.astype(np.int32).copy()
    idx[1] = idx[0]
    variant("wl-index-duplicate.npz", L0__indices=idx)
    variant("wl-index-float.npz", L0__indices=wl.layers[0].indices.astype(np.float32))
    codes = wl.layers[0].codes.copy()
    codes[0] = 200
    variant("wl-code-out-of-range.npz", L0__codes=codes)
    variant("wl-codebook-nan.npz", L0__codebook=np.array([np.nan, -0.25, 0.25, 0.5], np.float32))
    variant("wl-codes-hit-zero-weight.npz", L0__codebook=np.array([0.0, 0.0, 0.0, 0.0], np.float32))
    variant("wl-bias-inf.npz", L1__bias=np.array([np.inf, 0, 0], np.float32))
    variant("wl-bias-wrong-length.npz", L1__bias=np.zeros(5, np.float32))
    variant("wl-missing-member.npz", L1__codes=None)
    variant("wl-pickled-object.npz", meta=np.array([{"evil": "pickle"}], dtype=object))
    variant("wl-input-wrong-shape.npz", input=np.zeros((3, 3), np.float32))
    variant("wl-input-nan.npz", input=np.full((2, 4, 4), np.nan, np.float32))
    variant("wl-billion-entries.npz", L0__indices=lying_header((10**9,), "<i4"))
    variant("wl-header-garbage.npz", L0__indices=b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<   }\n")


def make_arches() -> None:
    files = {
        "arch-not-yaml.yaml": "num_pes: [1, 2\n",
        "arch-list.yaml": "- 1\n- 2\n",
        "arch-unknown-key.yaml": "num_pe: 64\n",
        "arch-nested-unknown-key.yaml": "spmat_sram: {size_bytes: 131072, widht_bits: 64}\n",
        "arch-zero-pes.yaml": "num_pes: 0\n",
        "arch-wrong-type.yaml": "fifo_depth: eight\n",
        "arch-python-tag.yaml": "num_pes: !!python/object/apply:os.system ['echo pwned']\n",
        "arch-entry-too-wide.yaml": "codebook_bits: 8\nspmat_sram: {width_bits: 8}\n",
        "arch-bad-tech.yaml": "tech_nm: 33\n",
        "arch-section-scalar.yaml": "timing: 5\n",
    }
    for name, text in files.items():
        (HERE / name).write_text(text)
    (HERE / "arch-binary.yaml").write_bytes(b"\xff\xfe\x00\x01garbage\x80\x81")


def make_nets() -> None:
    (HERE / "net-empty.net").write_bytes(b"")
    (HERE / "net-billion-nnz.net").write_bytes(struct.pack("<26I", *([10**9] * 26)) + b"\0" * 64)
    (HERE / "net-short-header.net").write_bytes(struct.pack("<3I", 1, 2, 3))
    (HERE / "net-text.net").write_text("name: \"not a compressed net file\"\n" * 40)


if __name__ == "__main__":
    for old in HERE.glob("*.npz"):
        old.unlink()
    make_workloads()
    make_arches()
    make_nets()
    print(len([p for p in HERE.iterdir() if p.suffix in (".npz", ".yaml", ".net")]), "corpus files")
