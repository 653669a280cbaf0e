"""Import the authors' Deep-Compression SqueezeNet file (``compressed_SqueezeNet.net``).

Layout (little-endian; songhan/SqueezeNet-Deep-Compression, described in
shared/models/squeezenet_dc/SOURCE.md), for a net with L convolution layers:

    uint32  nnz[L]                      stored entries per layer, in prototxt order
    per layer:
      float32 codebook[256]             shared weights (codebook[0] == 0.0)
      float32 bias[C_out]
      uint8   code[nnz]                 codebook index of each stored entry
      uint8   gaps[ceil(nnz / 2)]       4-bit relative index, low nibble first

Entry k sits at flat position sum_{i<=k}(gap_i + 1) - 1 of the layer's weights
flattened in (C_out, C_in, kh, kw) order. Entries whose weight is zero are the
padding entries that bridge zero runs longer than 15; they are dropped here, so
the workload holds real non-zeros only (the simulator re-derives padding for
its own index width).

The expected file size follows from the header alone, so a file whose header
disagrees with its size is refused before any layer data is read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from eiesim.errors import ModelFileError, WorkloadError
from eiesim.importers.caffe.prototxt import topology_from_prototxt
from eiesim.inputs.files import require_regular_file
from eiesim.network.memory import check_workload_memory
from eiesim.network.topologies import SQUEEZENET_INPUT_SHAPE, SQUEEZENET_PREPROCESS, LayerSpec, squeezenet_topology
from eiesim.network.workload import Layer, Workload, infer_shapes

__all__ = ["import_dc", "decode_dc_layers", "check_header", "DC_CODEBOOK_SIZE"]

#: Codebook entries per layer in the released file (8-bit codes).
DC_CODEBOOK_SIZE = 256


def _expected_size(nnz: np.ndarray, specs: list[LayerSpec]) -> int:
    total = 4 * len(specs)
    for n, spec in zip(nnz.tolist(), specs):
        total += 4 * DC_CODEBOOK_SIZE + 4 * spec.out_channels + n + (n + 1) // 2
    return total


def check_header(header: bytes, specs: list[LayerSpec], file_bytes: int, source: str | Path) -> np.ndarray:
    """Entry counts from the header, checked against the layer sizes and the real file size."""
    n_layers = len(specs)
    if len(header) < 4 * n_layers or file_bytes < 4 * n_layers:
        raise ModelFileError(f"file has {file_bytes} bytes, too short for the {n_layers}-entry header "
                             f"({n_layers} layers in the topology)", source)
    nnz = np.frombuffer(header, dtype="<u4", count=n_layers).astype(np.int64)
    for n, spec in zip(nnz.tolist(), specs):
        if n > spec.weight_count:
            raise ModelFileError(f"layer {spec.name!r}: header claims {n} entries but the layer has only "
                                 f"{spec.weight_count} weights", source)
    expected = _expected_size(nnz, specs)
    if expected != file_bytes:
        raise ModelFileError(f"header describes a {expected}-byte file but the file has {file_bytes} bytes "
                             "(truncated, extra data, or a different topology)", source)
    return nnz


def decode_dc_layers(data: bytes, specs: list[LayerSpec], source: str | Path) -> tuple[list[Layer], int]:
    """Decode the layers of a .net file's bytes; returns (layers with real non-zeros only, padding dropped)."""
    nnz = check_header(data, specs, len(data), source)
    offset = 4 * len(specs)
    layers: list[Layer] = []
    dropped = 0
    for n, spec in zip(nnz.tolist(), specs):
        where = f"layer {spec.name!r}"
        codebook = np.frombuffer(data, "<f4", DC_CODEBOOK_SIZE, offset).astype(np.float32)
        offset += 4 * DC_CODEBOOK_SIZE
        bias = np.frombuffer(data, "<f4", spec.out_channels, offset).astype(np.float32)
        offset += 4 * spec.out_channels
        codes = np.frombuffer(data, np.uint8, n, offset)
        offset += n
        packed = np.frombuffer(data, np.uint8, (n + 1) // 2, offset)
        offset += (n + 1) // 2
        if not (np.all(np.isfinite(codebook)) and np.all(np.isfinite(bias))):
            raise ModelFileError(f"{where}: codebook or bias holds NaN or Inf", source)
        gaps = np.empty(2 * packed.size, dtype=np.int64)
        gaps[0::2] = packed & 0x0F
        gaps[1::2] = packed >> 4
        if n % 2 and gaps[n] != 0:
            raise ModelFileError(f"{where}: the unused high nibble of the last index byte is not zero", source)
        positions = np.cumsum(gaps[:n] + 1) - 1
        if n and positions[-1] >= spec.weight_count:
            raise ModelFileError(f"{where}: relative indices run to position {int(positions[-1])}, past the "
                                 f"{spec.weight_count} weights of the layer", source)
        real = codebook[codes] != 0.0
        dropped += int(n - real.sum())
        positions, codes = positions[real], codes[real]
        cols = spec.in_channels * spec.kernel[0] * spec.kernel[1]
        rows = positions // cols
        indptr = np.zeros(spec.out_channels + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=spec.out_channels), out=indptr[1:])
        layers.append(Layer(
            name=spec.name, kind=spec.kind, in_channels=spec.in_channels, out_channels=spec.out_channels,
            kernel=spec.kernel, stride=spec.stride, padding=spec.padding, inputs=spec.inputs, relu=spec.relu,
            pool=spec.pool, indptr=indptr, indices=(positions % cols).astype(np.int32), codes=codes.copy(),
            codebook=codebook, bias=bias,
        ))
    return layers, dropped


def import_dc(net_path: str | Path, prototxt_path: str | Path | None = None) -> Workload:
    """Decode a Deep-Compression ``.net`` file into a workload (real non-zeros only).

    ``prototxt_path`` gives the topology (default: the built-in SqueezeNet v1.0,
    identical to the authors' deploy prototxt). Every problem is a
    ``ModelFileError`` naming the file.
    """
    net_path = Path(net_path)
    if prototxt_path is None:
        input_shape: tuple[int, ...] = SQUEEZENET_INPUT_SHAPE
        specs = squeezenet_topology("1.0")
    else:
        input_shape, specs = topology_from_prototxt(prototxt_path)
    require_regular_file(net_path, ModelFileError)
    size = net_path.stat().st_size
    try:
        with open(net_path, "rb") as fh:
            header = fh.read(4 * len(specs))
            # Size check from the header alone, before reading (and allocating for) the layers.
            nnz = check_header(header, specs, size, net_path)
            data = header + fh.read(size)
    except OSError as exc:
        raise ModelFileError(f"cannot read ({exc.__class__.__name__}: {exc})", net_path) from None
    layers, dropped = decode_dc_layers(data, specs, net_path)
    digest = hashlib.sha256(data).hexdigest()
    wl = Workload(
        name="squeezenet-1.0-dc" if prototxt_path is None else Path(prototxt_path).stem,
        source=(f"Deep Compression SqueezeNet v1.0 (songhan/SqueezeNet-Deep-Compression), {digest}"
                if prototxt_path is None else f"Deep Compression model {net_path.name} "
                f"with topology {Path(prototxt_path).name}, {digest}"),
        input_shape=tuple(input_shape),
        preprocess=dict(SQUEEZENET_PREPROCESS) if len(input_shape) == 3 else None,
        layers=layers,
        extra={"import": {"file": net_path.name, "sha256": digest, "stored_entries": int(nnz.sum()),
                          "padding_entries_dropped": dropped}},
    )
    try:
        wl._shapes = infer_shapes(wl, net_path)
    except WorkloadError as exc:  # a prototxt whose graph does not close
        raise ModelFileError(f"decoded layers do not form a valid graph: {exc.message}", net_path) from None
    # The budget every loader applies (an input of 3 x 2^20 x 2^20 imported fine, then every command refused it).
    check_workload_memory(wl, prototxt_path if prototxt_path is not None else net_path)
    return wl
