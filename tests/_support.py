"""Helpers shared by the tests: repository paths and running the CLI in-process."""

from __future__ import annotations

import copy
import functools
import json
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from eiesim.cli import main
from eiesim.config.defaults import DEFAULT_NETWORK, DEFAULT_NETWORK_PROTOTXT

ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout (also in CI): the reference data (the authors' simulator, CACTI, the paper).
SHARED = ROOT.parent / "shared"
#: The real Deep-Compression SqueezeNet ships inside the package (BSD licence beside it), so the tests that use it
#: run without ../shared; test_default_network checks the bundled bytes against the shared copy when it is there.
NET = DEFAULT_NETWORK
PROTOTXT = DEFAULT_NETWORK_PROTOTXT


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


def with_edited_meta(path: Path, edit: Callable[[dict], None], out: Path) -> Path:
    """A copy of workload file ``path`` at ``out`` whose meta JSON ``edit`` changed in place (for refusal tests)."""
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    edit(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(out, **arrays)
    return out


def default_signal_dispositions() -> None:
    """``preexec_fn`` for a child whose signal handling a test checks: SIGINT and SIGTERM as a shell starts it.

    A process inherits ignored signals, and Python installs its Ctrl-C handler only when SIGINT is not
    ignored at start-up. pytest run as a background job, or as a pytest-xdist worker, can hand its children
    an ignored SIGINT; a user's ``eiesim`` in a terminal never has one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


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

    from eiesim.network.workload import layer_from_dense

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

    from eiesim.network.workload import Workload, layer_from_dense

    rng = np.random.default_rng(0)
    cb = np.array([-1.0, 0.5, 1.0], np.float32)
    codes = rng.integers(0, 3, size=(8, 2, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.5, cb[codes], 0).astype(np.float32)
    layers = [layer_from_dense("c1", w, codes_dense=codes, codebook=cb, padding=(1, 1)),
              layer_from_dense("fc", np.where(rng.random((5, 8 * 4 * 4)) < 0.3, 1.0, 0.0).astype(np.float32),
                               codebook=np.array([1.0]), kind="fc", inputs=("c1",), relu=False)]
    return Workload("small", "test", (2, 4, 4), None, layers, rng.integers(0, 3, (2, 4, 4)).astype(np.float32))


#: docs/timing-model.md section 4.1 (pixel groups): N = 4, R = 2, 8-bit entries in 32-bit words; the rest is the
#: published design (D = 7, L = 2, P = 4, W = 2, Z = 1, the authors' finder and bias column).
SECTION_4_1_ARCH = {"num_pes": 4, "act_regs_per_pe": 2, "codebook_bits": 4, "spmat_sram.width_bits": 32,
                    "spmat_sram.size_bytes": 1024,
                    "ptr_sram.size_bytes": 1024, "act_sram.size_bytes": 1024}

#: Section 4.1 worked by hand, per G: the layer's cycles and phases (I/O: the 12-byte input read and the 12-byte
#: output written, ceil(24 / 16) = 2), each group's time, (busy, empty, starved, stalled, drain) per PE over both
#: pixels, the PE cycles by part of the cycle breakdown, FIFO pushes, and the entries per PE of one group.
SECTION_4_1_HAND = {
    1: {"cycles": 30, "io": 2, "load": 2, "compute": 24, "store": 2, "group_cycles": [28],
        "per_pe": [(3, 3, 6, 0, 12), (3, 3, 6, 0, 12), (4, 2, 6, 0, 12), (0, 6, 6, 0, 12)],
        "breakdown": {"ideal": 10, "idle_pes": 24, "imbalance": 0, "finder": 26, "drain": 36, "load": 8,
                      "store": 8, "io": 8},
        "fifo_pushes": 24, "entries_per_pe": [2, 2, 3, 0]},
    2: {"cycles": 19, "io": 2, "load": 2, "compute": 13, "store": 2, "group_cycles": [17, 16],
        "per_pe": [(4, 0, 3, 0, 6), (1, 2, 4, 0, 6), (3, 0, 3, 0, 6), (2, 1, 3, 0, 6)],
        "breakdown": {"ideal": 10, "idle_pes": 0, "imbalance": 2, "finder": 16, "drain": 24, "load": 8,
                      "store": 8, "io": 8},
        "fifo_pushes": 12, "entries_per_pe": [5, 2]},
}


def section_4_1_example(groups, copies: int = 1):
    """(arch, workload) of section 4.1: the 1 x 1 conv with rows (1,0,1), (0,1,1), (1,1,0), bias only on row 2,
    on pixels (1,0,1), (0,2,3). With ``copies`` > 1 the workload holds that many copies of the layer (c1, c2, ...),
    each reading the network input; only the last one's output is the network's."""
    import numpy as np

    from eiesim.config.arch import load_arch
    from eiesim.network.workload import Workload, layer_from_dense

    arch = load_arch(None, {**SECTION_4_1_ARCH, "mapping.pixel_groups": groups})
    w = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], np.float32)[:, :, None, None]
    names = ["c"] if copies == 1 else [f"c{k + 1}" for k in range(copies)]
    layers = [layer_from_dense(name, w, codebook=np.array([1.0]), bias=np.array([0.0, 0.0, 0.5]), relu=False)
              for name in names]
    x = np.array([[[1, 0]], [[0, 2]], [[1, 3]]], np.float32)
    return arch, Workload("conv", "hand-derived", (3, 1, 2), None, layers, x)


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


def random_fc_workload(rows: int, cols: int, seed: int):  # noqa: ANN201 - a Workload (imported here on use)
    """One fc layer (``rows`` x ``cols``, about half its weights kept, codebook 0.25 .. 1.0, no ReLU) and a
    random input of small integers: the content caches' tests change it and compare with plain computations."""
    from eiesim.network.workload import Workload, layer_from_dense

    rng = np.random.default_rng(seed)
    cb = np.array([0.25, 0.5, 0.75, 1.0], dtype=np.float32)
    codes = rng.integers(0, 4, size=(rows, cols, 1, 1))
    w = np.where(rng.random(codes.shape) < 0.5, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("fc", w, kind="fc", codes_dense=codes, codebook=cb, relu=False)
    x = rng.integers(0, 4, size=(cols,)).astype(np.float32)
    return Workload("fc", "test", (cols,), None, [layer], x)


def replace_simulate(monkeypatch, replacement: Callable) -> None:  # noqa: ANN001 - pytest's monkeypatch
    """Replace ``eiesim.run.simulate.simulate`` for one test, also in ``eiesim.run.multi_image``, which binds
    it by name when it is imported (``eiesim run`` calls it there). That module is imported here first: had a
    command imported it during the test, it would keep the replacement after the test."""
    import eiesim.run.multi_image as multi_mod
    import eiesim.run.simulate as simulate_mod

    monkeypatch.setattr(simulate_mod, "simulate", replacement)
    monkeypatch.setattr(multi_mod, "simulate", replacement)
