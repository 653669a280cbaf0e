"""inputs: bounded readers of untrusted files, and the memory budget they check against.

* ``text``: YAML / JSON (size, depth and duplicate-key limits); ``npz``: .npz / .npy archives
  (headers checked before anything is allocated); ``images``: image files and bundled photos.
* ``memory``: the memory budget (``EIESIM_MEMORY_LIMIT``) every reader checks.

Nothing here knows what a network is (``eiesim.network`` builds on these readers).
"""
