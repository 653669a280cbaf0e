"""config: the architecture a run simulates, every hardware parameter declared once.

* ``arch``: ``ArchConfig`` (keys, units, defaults, ranges), ``load_arch``, ``--set`` overrides.
* ``defaults``: the embedded default architecture and workload files.
"""
