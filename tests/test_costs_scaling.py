"""Technology scaling (Stillmaker & Baas 2017 tables) and its 28/22 nm interpolation."""

import math

import pytest

from eiesim.costs.scaling import area_factor, energy_factor, node_energy
from eiesim.errors import UsageError


@pytest.mark.parametrize("node", [45, 28, 22, 7, 130])
def test_same_node_is_identity(node):
    assert area_factor(node, node) == 1.0
    assert energy_factor(node, node) == 1.0


def test_listed_area_factors_are_the_published_table():
    assert area_factor(45, 32) == 0.46
    assert area_factor(45, 20) == 0.21
    assert area_factor(32, 45) == 2.2
    assert area_factor(130, 7) == 0.0092


def test_energy_at_45nm_is_the_published_fit():
    # 1.103 * 0.8^2 - 0.362 * 0.8 + 0.2767, worked by hand
    assert node_energy(45) == pytest.approx(0.69302, rel=1e-9)
    # 45 -> 32: (0.9559 * 0.64 - 0.7823 * 0.8 + 0.471) / 0.69302
    assert energy_factor(45, 32) == pytest.approx(0.456937 / 0.69302, rel=1e-5)


def test_28nm_is_loglog_between_32_and_20():
    t = math.log(32 / 28) / math.log(32 / 20)
    expected = math.exp(math.log(0.46) + t * (math.log(0.21) - math.log(0.46)))
    assert area_factor(45, 28) == pytest.approx(expected, rel=1e-12)
    assert 0.21 < area_factor(45, 28) < 0.46
    assert 0.21 < area_factor(45, 22) < area_factor(45, 28)
    e32, e20 = node_energy(32), node_energy(20)
    assert e20 < node_energy(22) < node_energy(28) < e32


def test_round_trip_through_an_interpolated_node():
    assert area_factor(45, 28) * area_factor(28, 45) == pytest.approx(1.0)
    assert energy_factor(45, 22) * energy_factor(22, 45) == pytest.approx(1.0)


def test_node_outside_the_model_is_an_error():
    with pytest.raises(UsageError, match="outside"):
        area_factor(45, 5)
