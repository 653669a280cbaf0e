"""The embedded defaults: the one default architecture, and the files ``eiesim run`` and ``eiesim reproduce`` need.

The default architecture, everywhere (``load_arch(None)``, an empty ``{}`` YAML,
``ArchConfig()``, ``eiesim params``, ``eiesim run`` and ``eiesim sweep`` without an ARCH,
``eiesim.sweep(None, ...)``, ``reproduce squeezenet-mapping``), is the published 64-PE EIE
chip with 8-bit codebook indices: ``ArchConfig``'s declared defaults, written out in
``arch_configs/eie-64pe-8bit.yaml`` (a test holds the two equal). It is the paper's chip
(Han et al., ISCA 2016) with codebook indices wide enough for the default network, the
authors' Deep-Compression SqueezeNet, whose codebooks have 256 entries. The paper's own
design, with 4-bit indices (``arch_configs/eie-64pe.yaml``, ``paper_arch()``), is what the
studies that reproduce the paper's tables use and what the cost model is calibrated on.

``eiesim/data/defaults/`` holds the architectures and the synthetic SqueezeNet as package
data, so that a non-editable install (``pip install .``, a wheel) finds them wherever it
runs; in the source tree they are symbolic links to the copies users edit and pass on the
command line (``arch_configs/``, ``workloads/``); building a wheel or sdist stores the files
themselves. ``eiesim/data/squeezenet_dc/`` holds the default network, the authors' files
unchanged with their licence (PROVENANCE.md there).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from eiesim.errors import UsageError

if TYPE_CHECKING:
    from eiesim.config.arch import ArchConfig

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULTS_DIR = DATA_DIR / "defaults"
#: The YAML file that writes out the default architecture (``ArchConfig``'s defaults).
DEFAULT_ARCH = "eie-64pe-8bit.yaml"
#: The YAML file of the paper's own design (4-bit codebook indices).
PAPER_ARCH = "eie-64pe.yaml"
#: The keys in which the paper's design differs from the default architecture.
PAPER_DIFFERENCES: dict[str, Any] = {"name": "eie-64pe", "codebook_bits": 4}
#: The default network: the authors' Deep-Compression SqueezeNet v1.0 (decoded by eiesim.importers.caffe).
DEFAULT_NETWORK = DATA_DIR / "squeezenet_dc" / "compressed_SqueezeNet.net"
#: The authors' Caffe topology of the default network (the built-in SqueezeNet v1.0 topology equals it).
DEFAULT_NETWORK_PROTOTXT = DATA_DIR / "squeezenet_dc" / "SqueezeNet_deploy.prototxt"
#: The synthetic SqueezeNet v1.0 (the released model's per-layer densities, random weights).
SYNTHETIC_WORKLOAD = "squeezenet-1.0-synthetic.npz"


def packaged(name: str) -> Path:
    """Path of one embedded default file; UsageError if the installation lacks it."""
    return _present(DEFAULTS_DIR / name)


def default_network_path() -> Path:
    """The default network's ``.net`` file (package data); UsageError if the installation lacks it."""
    return _present(DEFAULT_NETWORK)


def published_arch(overrides: list[str] | dict[str, Any] | None = None) -> ArchConfig:
    """The default architecture (the published 64-PE chip, 8-bit codebook indices), with ``overrides``."""
    from eiesim.config.arch import load_arch

    return load_arch(None, overrides)


def paper_arch(overrides: dict[str, Any] | None = None) -> ArchConfig:
    """The paper's own 64-PE design (4-bit codebook indices; arch_configs/eie-64pe.yaml), with ``overrides``."""
    from eiesim.config.arch import load_arch

    return load_arch(None, {**PAPER_DIFFERENCES, **(overrides or {})})


def _present(path: Path) -> Path:
    if not path.is_file():
        raise UsageError("this eiesim installation lacks its embedded default file; reinstall eiesim "
                         "(pip install eiesim / pip install .)", path)
    return path
