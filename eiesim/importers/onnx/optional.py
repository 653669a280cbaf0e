"""The optional ``onnx`` and ``onnxruntime`` packages (the ``onnx`` extra): imported when needed, named when missing."""

from __future__ import annotations

from types import ModuleType

from eiesim.errors import EiesimError

#: Install hint shared by every command that needs the optional extra.
INSTALL_HINT = "install the onnx extra: pip install 'eiesim[onnx]'"


def require_onnx() -> ModuleType:
    """Return the ``onnx`` module, or raise EiesimError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise EiesimError(f"this needs the 'onnx' package; {INSTALL_HINT}") from None
    return onnx


def require_onnxruntime() -> ModuleType:
    """Return the ``onnxruntime`` module, or raise EiesimError naming the extra to install."""
    try:
        import onnxruntime
    except ImportError:
        raise EiesimError(f"this needs the 'onnxruntime' package; {INSTALL_HINT}") from None
    return onnxruntime


def onnxruntime_available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
