"""Deprecated old path eiesim.sweep_store: see eiesim/_deprecated/__init__.py (MOVED)."""

from eiesim._deprecated import reexport

reexport(globals())
