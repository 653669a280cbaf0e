"""Deprecated old path eiesim.fixed_point: see eiesim/_deprecated/__init__.py (MOVED)."""

from eiesim._deprecated import reexport

reexport(globals())
