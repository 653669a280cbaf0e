"""Sweep point keys: a digest of everything that can change a point's result.

A point is stored under ``point_key(arch, inputs_digest(...))``: its architecture, the
workload file's content, the content of every network input (the preprocessed image
arrays, so a new photo at the same path counts), the eiesim version and a digest of the
simulator's own model sources (``eiesim.run.provenance.model_digest``). A changed input or
model therefore never reuses a stored point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from eiesim.config.arch import ArchConfig
from eiesim.run.provenance import model_digest
from eiesim.version import __version__


def inputs_digest(workload_digest: str, input_digests: Sequence[str]) -> str:
    """What every point of a sweep shares, as one digest for :func:`point_key`.

    Covers the workload file's content, each network input's content (in order), the eiesim
    version and the model sources' digest: a change to any of them changes every key.
    """
    payload = json.dumps({"workload": workload_digest, "inputs": list(input_digests), "version": __version__,
                          "model": model_digest()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def point_key(arch: ArchConfig, inputs_digest: str) -> str:
    """The 24-hex-digit key of the point ``arch`` of a sweep whose shared inputs digest to ``inputs_digest``."""
    payload = json.dumps({"arch": arch.to_dict(), "workload": inputs_digest, "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]
