"""run: one simulation end to end, several images, and the results as data.

* ``simulate``: checks, encoding, engine, costs and the functional check of one inference.
* ``multi_image``: one simulation per image and the spread of their results.
* ``result``, ``records``, ``provenance``: results, per-layer rows, content digests.
"""
