"""Helpers shared by the tests: repository paths and running the CLI in-process."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest

from eiesim.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout (also in CI): the real model file and reference data.
SHARED = ROOT.parent / "shared"
NET = SHARED / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"
PROTOTXT = SHARED / "models" / "squeezenet_dc" / "SqueezeNet_deploy.prototxt"


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``eiesim ARGS`` in this process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def run_exit_code(argv: list[str]) -> int:
    """Run ``eiesim ARGV`` in this process and return its exit code (output left to capsys)."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


#: The 4-PE worked example of docs/timing-model.md: PE -> column -> local rows holding a weight.
DOC_LOCAL_ROWS = {
    0: {0: [0, 1, 2, 3], 1: [1, 3], 2: [2], 3: [], 4: [0], 5: [3]},
    1: {0: [2], 1: [0], 2: [], 3: [0, 3], 4: [], 5: [1]},
    2: {0: [], 1: [], 2: [0, 1, 3], 3: [2], 4: [1, 2], 5: []},
    3: {0: [3], 1: [2], 2: [1], 3: [0], 4: [3], 5: [0, 1]},
}
#: The doc example's input activations (columns 1 and 4 are zero).
DOC_INPUT = [3, 0, 1, 2, 0, 1]
#: Rows of the doc example with a bias: local row 0 of PE 0 and local row 1 of PE 2.
DOC_BIAS_ROWS = (0, 6)


def doc_example_layer(relu: bool = True):
    """The doc example's 16 x 6 fc layer (row i = PE i mod 4, local row i // 4), all weights 1.0,
    bias 0.5 on rows 0 and 6 (the bias column of docs/timing-model.md section 4)."""
    import numpy as np

    from eiesim.workload import layer_from_dense

    w = np.zeros((16, 6), np.float32)
    for pe, cols in DOC_LOCAL_ROWS.items():
        for j, local_rows in cols.items():
            for r in local_rows:
                w[pe + 4 * r, j] = 1.0
    bias = np.zeros(16, np.float32)
    bias[list(DOC_BIAS_ROWS)] = 0.5
    return layer_from_dense("doc", w, codebook=np.array([1.0]), bias=bias, kind="fc", relu=relu)


def small_workload():
    """A conv layer (8 output channels, 16 pixels) and an fc layer (5 rows), with its own input: small enough
    for any test, and every PE of a 4-PE chip holds rows."""
    import numpy as np

    from eiesim.workload import Workload, layer_from_dense

    rng = np.random.default_rng(0)
    cb = np.array([-1.0, 0.5, 1.0], np.float32)
    codes = rng.integers(0, 3, size=(8, 2, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.5, cb[codes], 0).astype(np.float32)
    layers = [layer_from_dense("c1", w, codes_dense=codes, codebook=cb, padding=(1, 1)),
              layer_from_dense("fc", np.where(rng.random((5, 8 * 4 * 4)) < 0.3, 1.0, 0.0).astype(np.float32),
                               codebook=np.array([1.0]), kind="fc", inputs=("c1",), relu=False)]
    return Workload("small", "test", (2, 4, 4), None, layers, rng.integers(0, 3, (2, 4, 4)).astype(np.float32))


def table4_rows(seed: int | None = None) -> list[dict]:
    """``eiesim.reproduce.table4.table4_rows(seed=seed)`` (default: its seed), computed once per test process
    (several files check it). A pure function of the seed, so sharing it cannot make one test depend on another;
    each caller gets its own copy to read or change."""
    from eiesim.reproduce.table4 import SEED

    return copy.deepcopy(_table4_rows(SEED if seed is None else seed))


@functools.cache
def _table4_rows(seed: int) -> list[dict]:
    from eiesim.reproduce.table4 import table4_rows as compute

    return compute(seed=seed)
