"""The layer-graph code that runs on every load and simulation (plain dicts: Kahn's algorithm, a union-find,
a depth-first search), checked against networkx's own algorithms on random graphs (an independent method)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import networkx as nx
import pytest

from eiesim.network.functional import format_groups
from eiesim.network.workload import NETWORK_INPUT, Workload, _ancestors, _has_cycle, network_graph


def _random_layers(rng: random.Random, count: int) -> list[SimpleNamespace]:
    """Layers reading 1-3 tensors each: earlier layers, the input, now and then a host-op name or the same
    tensor twice; some recurrent (their output shares its inputs' format)."""
    layers = []
    for i in range(count):
        pool = [NETWORK_INPUT, *(f"L{j}" for j in range(i)), "host_a", "host_b"]
        inputs = [rng.choice(pool) for _ in range(rng.randint(1, 3))]
        layers.append(SimpleNamespace(name=f"L{i}", inputs=inputs, kind=rng.choice(["conv", "fc", "fc", "lstm"])))
    return layers


@pytest.mark.parametrize("seed", range(40))
def test_format_groups_are_networkx_connected_components_in_its_order(seed):
    rng = random.Random(seed)
    wl = SimpleNamespace(layers=_random_layers(rng, rng.randint(1, 25)))
    g = nx.Graph()
    g.add_nodes_from([NETWORK_INPUT, *(layer.name for layer in wl.layers)])
    for layer in wl.layers:
        nx.add_path(g, [*layer.inputs, layer.name] if layer.kind == "lstm" else layer.inputs)
    assert format_groups(wl) == list(nx.connected_components(g))


@pytest.mark.parametrize("seed", range(40))
def test_consumers_are_the_multigraph_successors(seed):
    rng = random.Random(seed)
    layers = _random_layers(rng, rng.randint(1, 25))
    g = network_graph(layers)
    expected = {name: [v for _, v in g.out_edges(name)] for name in g}
    got = Workload.consumers(SimpleNamespace(layers=layers))
    assert got == expected and list(got) == list(expected)


@pytest.mark.parametrize("seed", range(60))
def test_cycle_check_and_ancestors_agree_with_networkx(seed):
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(rng.randint(1, 12))]
    readers = rng.sample(names, len(names) // 2 + 1)
    reads = {name: [rng.choice(names) for _ in range(rng.randint(0, 2))] for name in readers}
    g = nx.DiGraph()
    g.add_nodes_from(reads)
    for name, srcs in reads.items():
        g.add_edges_from((src, name) for src in srcs)
    assert _has_cycle(reads) == (not nx.is_directed_acyclic_graph(g))
    if not _has_cycle(reads):
        for name in g:
            assert _ancestors(reads, name) == nx.ancestors(g, name)


def test_cycle_examples_by_hand():
    assert _has_cycle({"a": ["a"]})
    assert _has_cycle({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert not _has_cycle({"a": ["x", "x"], "b": ["a", "x"], "c": ["b", "a"]})
    assert _ancestors({"a": ["x"], "b": ["a"], "c": ["b", "y"]}, "c") == {"a", "b", "x", "y"}
