"""Networks eiesim can build: SqueezeNet topologies, the real Deep-Compression file, synthetic workloads."""

from eiesim.models.deep_compression import import_dc
from eiesim.models.synthetic import (
    BENCHMARK_LAYERS, eie_benchmark_workloads, eie_fc_layer, make_workload, squeezenet, workload_names,
)
from eiesim.models.topologies import SQUEEZENET_PREPROCESS, LayerSpec, squeezenet_topology

__all__ = [
    "import_dc", "squeezenet", "eie_fc_layer", "eie_benchmark_workloads", "make_workload", "workload_names",
    "BENCHMARK_LAYERS", "SQUEEZENET_PREPROCESS", "LayerSpec", "squeezenet_topology",
]
