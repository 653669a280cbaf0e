"""Deprecated old path eiesim.models.deep_compression: see eiesim/_deprecated/__init__.py (MOVED)."""

from eiesim._deprecated import reexport

reexport(globals())
