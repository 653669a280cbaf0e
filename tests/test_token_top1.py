"""Top-1 of a token output (a transformer's LM head, T rows of V logits) is taken per token.

Hand-made logits where the flattened argmax agrees but one token's class does not: the agreement
report (compress) and the run's functional check must count tokens, not one argmax of T x V values.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from eiesim.importers.agreement import _top1_entry
from eiesim.network.functional import token_count, top1_per_token
from eiesim.run.simulate import functional_check

# 3 tokens of 4 classes: per token the compressed output says [1, 0, 3], the reference [1, 1, 3];
# the flattened argmax is position 11 (token 2, class 3) in both.
OURS = np.array([[0, 5, 1, 0], [2, 0, 0, 1], [0, 0, 0, 9]], np.float32)
REFERENCE = np.array([[0, 4, 1, 0], [0, 3, 0, 1], [0, 0, 0, 8]], np.float32)


def _workload(tokens: list[int] | None) -> SimpleNamespace:
    """What the top-1 helpers read of a workload: its output layer's name and ``tokens``."""
    extra = {"tokens": tokens} if tokens else {}
    return SimpleNamespace(output_layer=SimpleNamespace(name="head", extra=extra))


def test_flattened_argmax_would_agree():
    assert np.argmax(OURS) == np.argmax(REFERENCE) == 11


def test_top1_per_token_of_hand_made_logits():
    wl = _workload([3])
    assert token_count(wl) == 3
    assert top1_per_token(wl, OURS.reshape(-1)).tolist() == [1, 0, 3]
    assert top1_per_token(wl, REFERENCE.reshape(-1)).tolist() == [1, 1, 3]
    assert token_count(_workload(None)) is None
    assert top1_per_token(_workload(None), OURS.reshape(-1)).tolist() == [11]


def test_agreement_entry_counts_tokens():
    entry = _top1_entry(_workload([1, 3]), "x", OURS.reshape(-1), REFERENCE.reshape(-1))  # leading dims (1, 3)
    assert entry["top1_compressed"] == [1, 0, 3] and entry["top1_reference"] == [1, 1, 3]
    assert (entry["tokens"], entry["tokens_agree"], entry["agree"]) == (3, 2, False)
    classifier = _top1_entry(_workload(None), "x", OURS.reshape(-1), REFERENCE.reshape(-1))
    assert classifier["top1_compressed"] == classifier["top1_reference"] == 11 and classifier["agree"] is True
    assert "tokens" not in classifier


@pytest.mark.parametrize("tokens, expected", [([3], {"top1": None, "top1_token_agreement": 2 / 3}),
                                              (None, {"top1": 11, "reference_top1": 11})])
def test_functional_check_top1_per_token(tokens, expected):
    """The run's check on EIE's layout of a token layer's output: (V, 1, T), classes by channel."""
    plan = SimpleNamespace(format=lambda name: SimpleNamespace(out_frac=0))
    ours = OURS.T.reshape(4, 1, 3).astype(np.int64) if tokens else OURS.reshape(-1).astype(np.int64)
    ref = REFERENCE.T.reshape(4, 1, 3).astype(np.int64) if tokens else REFERENCE.reshape(-1).astype(np.int64)
    check = functional_check(_workload(tokens), np.zeros(1), plan, {"head": ours}, reference={"head": ref})
    for key, value in expected.items():
        assert check.get(key) == pytest.approx(value) if value is not None else check.get(key) is None
