"""Deprecated old path eiesim.event_budget: see eiesim/_deprecated/__init__.py (MOVED)."""

from eiesim._deprecated import reexport

reexport(globals())
