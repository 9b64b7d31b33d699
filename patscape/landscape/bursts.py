"""Bursts: when an item (a topic, a code, an owner, a term) draws a sudden, sustained share of a
corpus's patents, by Kleinberg's burst detection in its batched form.

Kleinberg ("Bursty and Hierarchical Structure in Streams", KDD 2002, section 3 "enumerating"
bursts over batches) models each batch ``t`` (a year, or a month) as ``d_t`` documents of which
``r_t`` are the item's, drawn binomially with a rate that depends on a hidden state: the base
rate ``p_0 = R / D`` (the item's share over the whole stream) in state 0, ``p_i = p_0 s^i`` in
state ``i`` (kept below 1). A state sequence costs, per batch, the negative log-likelihood of
``r_t`` under its rate, plus ``gamma ln n`` per state up (``n`` batches; going down is free). The
cheapest sequence is found exactly by the Viterbi algorithm; a **burst** is a maximal run of
batches above state 0, and its **strength** the cost it saves: the sum over its batches of state
0's cost minus the state's own. ``s`` (how much higher a burst's rate is; default 2) and
``gamma`` (how costly it is to enter one; default 1) are Kleinberg's parameters, with his
defaults; ``states`` (default 2: quiet and bursting) bounds the levels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

S = 2.0
GAMMA = 1.0
STATES = 2


@dataclass(frozen=True, slots=True)
class Burst:
    """A maximal run of batches ``begin`` to ``end`` (indices, inclusive) above state 0."""

    begin: int
    end: int
    strength: float
    level: int  # the highest state reached
    counts: list[int]  # the item's documents per batch of the burst
    totals: list[int]  # all documents per batch of the burst


def state_costs(relevant: Sequence[int], totals: Sequence[int], s: float = S, states: int = STATES) -> NDArray[np.float64]:
    """The cost of each state at each batch (n, states): ``-ln`` of the binomial probability of
    the batch's counts under the state's rate (the binomial coefficient included, as Kleinberg
    writes it; it is the same in every state and does not change the path)."""
    r = np.asarray(relevant, dtype=np.float64)
    d = np.asarray(totals, dtype=np.float64)
    if (r < 0).any() or (r > d).any():
        raise ValueError("each batch needs 0 <= relevant <= total")
    base = r.sum() / d.sum() if d.sum() > 0 else 0.0
    if base <= 0 or base >= 1:
        raise ValueError("an item needs a share strictly between 0 and 1 of the documents")
    rates = np.minimum(base * s ** np.arange(states), 1 - 1e-9)
    log_binomial = np.array([math.lgamma(dt + 1) - math.lgamma(rt + 1) - math.lgamma(dt - rt + 1) for rt, dt in zip(r, d)])
    return -(log_binomial[:, None] + r[:, None] * np.log(rates)[None, :] + (d - r)[:, None] * np.log1p(-rates)[None, :])


def viterbi(costs: NDArray[np.float64], gamma: float = GAMMA) -> list[int]:
    """The cheapest state sequence for ``costs`` (n, states), starting in state 0: moving up from
    state i to j costs ``(j - i) gamma ln n``, moving down nothing. Ties: the lower state."""
    n, k = costs.shape
    up = gamma * math.log(max(n, 2))
    trans = np.array([[max(j - i, 0) * up for j in range(k)] for i in range(k)])
    total = trans[0] + costs[0]
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        options = total[:, None] + trans  # from i (rows) to j (columns)
        back[t] = np.argmin(options, axis=0)  # (argmin: the lowest i among ties)
        total = options[back[t], np.arange(k)] + costs[t]
    path = [int(np.argmin(total))]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def bursts(
    relevant: Sequence[int], totals: Sequence[int], s: float = S, gamma: float = GAMMA, states: int = STATES
) -> list[Burst]:
    """The bursts of an item counted ``relevant`` per batch among ``totals`` documents, in order.
    An item absent from every batch, or present in all of every batch's documents, has none."""
    r = [int(v) for v in relevant]
    d = [int(v) for v in totals]
    if len(r) != len(d):
        raise ValueError(f"{len(r)} counts for {len(d)} batches")
    if not r or sum(r) == 0 or sum(r) == sum(d):
        return []
    costs = state_costs(r, d, s, states)
    path = viterbi(costs, gamma)
    out: list[Burst] = []
    t = 0
    while t < len(path):
        if path[t] == 0:
            t += 1
            continue
        begin = t
        while t < len(path) and path[t] > 0:
            t += 1
        span = range(begin, t)
        strength = float(sum(costs[i, 0] - costs[i, path[i]] for i in span))
        out.append(Burst(begin, t - 1, round(strength, 4), max(path[i] for i in span), r[begin:t], d[begin:t]))
    return out
