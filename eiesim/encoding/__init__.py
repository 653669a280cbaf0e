"""encoding: the per-PE encoding of a layer (docs/timing-model.md section 1), kernels included.

* ``layout``: ``layout_layer`` -> ``ColumnLayout`` (every PE's column pointers, padding and
  storage: all that timing depends on) and ``encode_layer`` -> ``EncodedLayer`` (the
  layout plus the entries, as the Spmat SRAM holds them).
* ``kernels``: the Numba kernels behind them (counting, two algorithms; filling).

The encoding depends on the architecture, the workload and ``eiesim.jit`` (threads and
the kernel cache guard), never on the timing engines; ``eiesim.timing`` uses it.
"""

from eiesim.encoding.layout import (
    MASK_KERNEL_MAX_ROWS,
    MAX_ENTRIES_PER_PE,
    ColumnLayout,
    EncodedLayer,
    bias_rows,
    csr_arrays,
    encode_layer,
    layout_layer,
)

__all__ = [
    "MASK_KERNEL_MAX_ROWS", "MAX_ENTRIES_PER_PE", "ColumnLayout", "EncodedLayer", "bias_rows", "csr_arrays",
    "encode_layer", "layout_layer",
]
