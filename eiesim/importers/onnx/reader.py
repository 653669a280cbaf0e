"""Reading an .onnx file defensively: a size cap before parsing, external data only from the model's directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eiesim.errors import ModelFileError
from eiesim.importers.onnx.fold import MAX_CONST_ELEMENTS
from eiesim.importers.onnx.optional import require_onnx

#: Largest .onnx file read (protobuf itself cannot parse more than 2 GiB).
MAX_MODEL_BYTES = 2 * 1024**3 - 1


def read_model(path: str | Path) -> Any:
    """Parse an .onnx file (size-checked) and load its external data safely; returns a ModelProto."""
    onnx = require_onnx()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("no such file", path)
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{size} bytes is above the {MAX_MODEL_BYTES}-byte protobuf limit", path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError, ... depending on the version
        raise ModelFileError(f"not a readable ONNX model ({type(exc).__name__}: {exc})", path) from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelFileError("the ONNX model has no graph nodes", path)
    for tensor in _all_tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _load_external(tensor, path)
    return model


def _all_tensors(graph: Any) -> list[Any]:
    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
            tensors.extend(attr.tensors)
    return tensors


def _load_external(tensor: Any, model_path: Path) -> None:
    """Read one tensor's external data, refusing files outside the model's directory."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    base = model_path.resolve().parent
    where = f"tensor {tensor.name!r}: external data {location!r}"
    if not location or Path(location).is_absolute():
        raise ModelFileError(f"{where} must be a path relative to the model's directory", model_path)
    target = (base / location).resolve()
    if not target.is_relative_to(base):
        raise ModelFileError(f"{where} lies outside the model's directory; refusing to read it", model_path)
    if not target.is_file():
        raise ModelFileError(f"{where} does not exist", model_path)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else target.stat().st_size - offset
    except ValueError:
        raise ModelFileError(f"{where} has a non-integer offset or length", model_path) from None
    file_size = target.stat().st_size
    if offset < 0 or length < 0 or offset + length > file_size:
        raise ModelFileError(f"{where}: bytes [{offset}, {offset + length}) exceed the file's {file_size} bytes", model_path)
    if length > MAX_CONST_ELEMENTS * 8:
        raise ModelFileError(f"{where}: {length} bytes is too large", model_path)
    with open(target, "rb") as fh:
        fh.seek(offset)
        tensor.raw_data = fh.read(length)
    tensor.data_location = 0  # TensorProto.DEFAULT
    del tensor.external_data[:]
