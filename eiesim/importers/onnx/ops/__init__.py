"""The ONNX operators eiesim reads: one small handler per operator (``OPS``).

Adding an operator: write its handler, decorated with ``@handles("OpType")``, in the module
of its kind -- ``layers`` (operators that make a layer), ``folded`` (folded into the layer
before them), ``plumbing`` (operators that only route tensors), ``activations`` (activations other than ReLU, on the
write-back path). Nothing else changes: the
walker looks every node up in ``OPS``, and the "not supported" message lists ``LISTED``.
"""

from __future__ import annotations

from eiesim.importers.onnx.ops import activations, folded, layers, plumbing, recurrent
from eiesim.importers.onnx.ops.table import OPS, OpHandler, handles, listed_in

#: The supported operators as the "not supported" message names them: the layer makers, then the
#: operators folded into a layer, then those that route tensors.
LISTED = [*listed_in(layers), *listed_in(recurrent), *listed_in(folded), *listed_in(activations), *listed_in(plumbing)]

__all__ = ["LISTED", "OPS", "OpHandler", "handles"]
