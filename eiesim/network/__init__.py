"""network: the compressed network a run simulates, and what it computes.

* ``workload``: layers and the workload format (.npz v1, docs/workload-format.md), shapes.
* ``dense``, ``compress``, ``synthetic``, ``topologies``: dense models, Deep-Compression
  pruning and weight sharing, deterministic synthetic networks, SqueezeNet topologies.
* ``fixed_point``, ``functional``: the 16-bit datapath and the functional reference.
* ``checks``, ``memory``, ``network_input``: a workload built in code checked like a loaded
  one, its memory estimate, and the network input prepared from an image or array.
"""
