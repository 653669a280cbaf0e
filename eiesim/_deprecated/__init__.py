"""The old flat module paths of eiesim (before the stage folders of issue 21), kept for one release.

``eiesim/__init__.py`` appends this folder to the package's ``__path__``, so ``import
eiesim.workload`` still finds ``workload.py`` here. Every file here is the same two lines:
it calls :func:`reexport`, which warns (a DeprecationWarning pointing at the importing
line) and copies the names of the module(s) that now hold the code, as listed in
:data:`MOVED` -- the one list of old paths. Nothing else lives here; the folder goes away
in the next release.

Not kept: ``eiesim.simulate`` and ``eiesim.sweep`` (:data:`REMOVED`). Those names are the
public functions ``eiesim.simulate()`` and ``eiesim.sweep()``; Python binds an imported
submodule as an attribute of its package, so a module of either name would replace the
function. Import the modules from their new paths.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

#: Old module path -> the module(s) that now hold its code (its names are re-exported from them, in order).
MOVED: dict[str, tuple[str, ...]] = {
    "eiesim.agreement": ("eiesim.importers.agreement",),
    "eiesim.arch": ("eiesim.config.arch",),
    "eiesim.atomic": ("eiesim.outputs.commit", "eiesim.outputs.paths", "eiesim.outputs.temporaries"),
    "eiesim.checks": ("eiesim.network.checks",),
    "eiesim.compress": ("eiesim.network.compress",),
    "eiesim.defaults": ("eiesim.config.defaults",),
    "eiesim.dense": ("eiesim.network.dense",),
    "eiesim.event_budget": ("eiesim.timing.event_budget",),
    "eiesim.fixed_point": ("eiesim.network.fixed_point",),
    "eiesim.functional": ("eiesim.network.functional",),
    "eiesim.images": ("eiesim.inputs.images", "eiesim.network.network_input"),
    "eiesim.limits": ("eiesim.inputs.memory", "eiesim.network.memory"),
    "eiesim.models": ("eiesim.importers.caffe.deep_compression", "eiesim.network.synthetic",
                      "eiesim.network.topologies"),
    "eiesim.models.deep_compression": ("eiesim.importers.caffe.deep_compression",),
    "eiesim.models.prototxt": ("eiesim.importers.caffe.prototxt",),
    "eiesim.models.synthetic": ("eiesim.network.synthetic",),
    "eiesim.models.topologies": ("eiesim.network.topologies",),
    "eiesim.multi": ("eiesim.run.multi_image",),
    "eiesim.onnx_export": ("eiesim.importers.onnx.export",),
    "eiesim.onnx_fold": ("eiesim.importers.onnx.fold",),
    "eiesim.onnx_import": ("eiesim.importers.onnx.walker", "eiesim.importers.onnx.reader", "eiesim.importers.onnx.optional",
                           "eiesim.importers.onnx.runtime", "eiesim.network.dense"),
    "eiesim.provenance": ("eiesim.run.provenance",),
    "eiesim.records": ("eiesim.run.records",),
    "eiesim.report": ("eiesim.render.run_files", "eiesim.render.run_tables"),
    "eiesim.result": ("eiesim.run.result",),
    "eiesim.safe_npz": ("eiesim.inputs.npz",),
    "eiesim.safe_text": ("eiesim.inputs.text",),
    "eiesim.sweep_exec": ("eiesim.sweeps.executors", "eiesim.sweeps.dask_runner"),
    "eiesim.sweep_store": ("eiesim.sweeps.store",),
    "eiesim.tables": ("eiesim.render.bounded_tables",),
    "eiesim.trace": ("eiesim.timing.trace",),
    "eiesim.workload": ("eiesim.network.workload", "eiesim.network.workload_file"),
}

#: Old module paths that are not kept (their names are public functions), and where the modules are now.
REMOVED: dict[str, str] = {
    "eiesim.simulate": "eiesim.run.simulate",
    "eiesim.sweep": "eiesim.sweeps.sweep",
}


def reexport(namespace: dict[str, Any]) -> None:
    """Fill the namespace of the old-path module ``namespace["__name__"]`` with its new modules' names, and warn.

    Every name but the dunder ones is copied (public names are the same objects as in the
    new modules; a name two new modules define comes from the first one listed).
    """
    old = namespace["__name__"].replace("eiesim._deprecated.", "eiesim.", 1)  # also when a tool walks this folder
    new = MOVED[old]
    warnings.warn(f"{old} is deprecated: its code moved to {' and '.join(new)}; import it from there (the old "
                  "path is kept for one release)", DeprecationWarning, stacklevel=3)
    for name in reversed(new):
        module = importlib.import_module(name)
        namespace.update({k: v for k, v in vars(module).items() if not (k.startswith("__") and k.endswith("__"))})
