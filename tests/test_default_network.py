"""The default network that ships inside the package: the authors' files, unchanged, with their licence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from eiesim.config.defaults import DEFAULT_NETWORK, DEFAULT_NETWORK_PROTOTXT, default_network_path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DC = ROOT.parent / "shared" / "models" / "squeezenet_dc"
#: (bytes, sha256) of the authors' files, as published with songhan/SqueezeNet-Deep-Compression (typed in).
PUBLISHED = {
    "compressed_SqueezeNet.net": (675_763, "e4ab6960ae8cd81505e1c2136921201507e930966c53deaf15862a395b3a3261"),
    "SqueezeNet_deploy.prototxt": (10_486, "3bcb0e792e2b50ddeb955b178ba6742e28d8950956915348eba355652040674c"),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_bundled_files_are_the_authors_files_unchanged(name):
    data = (DEFAULT_NETWORK.parent / name).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == PUBLISHED[name]


def test_the_licence_and_the_provenance_travel_with_the_files():
    folder = DEFAULT_NETWORK.parent
    licence = (folder / "LICENCE").read_text()
    assert "Redistribution and use in source and binary forms" in licence and "BSD" in licence
    provenance = (folder / "PROVENANCE.md").read_text()
    assert "songhan/SqueezeNet-Deep-Compression" in provenance and "BSD 2-clause" in provenance
    for name, (_, digest) in PUBLISHED.items():
        assert name in provenance and digest in provenance
    assert DEFAULT_NETWORK_PROTOTXT.parent == folder and default_network_path() == DEFAULT_NETWORK


@pytest.mark.skipif(not SHARED_DC.is_dir(), reason="../shared/models/squeezenet_dc not present")
def test_the_bundled_files_equal_the_shared_copies():
    for name in PUBLISHED:
        assert (DEFAULT_NETWORK.parent / name).read_bytes() == (SHARED_DC / name).read_bytes(), name
    assert (DEFAULT_NETWORK.parent / "LICENCE").read_bytes() == (SHARED_DC / "LICENCE").read_bytes()
