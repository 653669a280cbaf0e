"""The embedded defaults: files ``eiesim run`` and ``eiesim reproduce`` need, shipped inside the package.

``eiesim/data/defaults/`` holds the published architectures and the bundled synthetic
SqueezeNet as package data, so that a non-editable install (``pip install .``, a wheel)
finds them wherever it runs. In the source tree they are symbolic links to the copies
users edit and pass on the command line (``arch_configs/``, ``workloads/``); building a
wheel or sdist stores the files themselves.
"""

from __future__ import annotations

from pathlib import Path

from eiesim.errors import UsageError

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "data" / "defaults"
#: The architecture and workload ``eiesim run`` uses when none is given.
DEFAULT_ARCH = "eie-64pe-8bit.yaml"
DEFAULT_WORKLOAD = "squeezenet-1.0-synthetic.npz"


def packaged(name: str) -> Path:
    """Path of one embedded default file; UsageError if the installation lacks it."""
    path = DEFAULTS_DIR / name
    if not path.is_file():
        raise UsageError("this eiesim installation lacks its embedded default file; reinstall eiesim "
                         "(pip install eiesim / pip install .)", path)
    return path
