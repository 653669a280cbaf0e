"""jit: running eiesim's Numba kernels: the shared thread pool and the on-disk-cache guard.

* ``threads``: ``run_ranges`` splits a kernel's outer loop over one shared pool of
  threads; ``thread_count`` / ``set_thread_count`` say how many (``EIESIM_THREADS``).
* ``cache_guard``: ``call`` runs a kernel so that a broken Numba cache never breaks a run.

Used by the encoding (``eiesim.encoding``) and the fast engine (``eiesim.timing.fast``);
depends on neither.
"""
