"""sweeps: design-space sweeps, each grid point a full run, stored as it finishes.

* ``sweep``: the driver (the public ``eiesim.sweep``); ``grid``: the ``--set`` axes and their
  points; ``points``: one point's simulations and its table row; ``keys``: what a stored
  point's key covers; ``store``: verified point files and claims; ``executors`` and
  ``dask_runner``: the points run here, on local worker processes or on a Dask cluster.
"""
