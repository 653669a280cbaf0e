"""Deprecated old path eiesim.models.synthetic: see eiesim/_deprecated/__init__.py (MOVED)."""

from eiesim._deprecated import reexport

reexport(globals())
