"""sweeps: design-space sweeps, each grid point a full run, stored as it finishes.

* ``sweep``: the driver (``eiesim.sweep``); ``store``: verified point files and claims;
  ``executors``: the points run here, on local worker processes or on Dask.
"""
