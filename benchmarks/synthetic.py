"""Synthetic patent-like corpora with known topics, for benchmarks and tests at any scale.

The vectors follow the recipe of ``benchmarks/ann_choice.py`` (fitted there to real stores of
all-MiniLM-L6-v2 and USE multilingual on the dev corpus): unit vectors
``unit(0.48 g + 0.45 field + 0.5 topic + s (0.85 A z + 0.3 U_topic w))`` with a shared mean
direction ``g`` (embedding models are anisotropic), an anisotropic covariance ``A`` (power-law
spectrum cut off exponentially), topics grouped into fields so that sibling topics are close,
each topic with its own 16-dim subspace ``U_topic``, a lognormal per-document scale ``s`` and
Zipf topic sizes (a few large topics, many small). Added here: noise documents that belong to no
topic (truth ``-1``: a field centre but no topic centre, and a wider spread), and metadata
(title, abstract, date, language, CPC codes) drawn from each document's topic, so that labels,
evolution and code metrics have something to work on.

Generation is seeded and goes topic by topic into a caller-supplied matrix (it may be a
``numpy.lib.format.open_memmap``), so 1M x 1024 vectors never need a second copy in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SUBCLASSES = [
    "A61B", "A61K", "B01D", "B60L", "B60W", "B62D", "B64C", "B64G", "C07D", "C08L", "C12N", "E21B",
    "F01D", "F02M", "F03D", "F16H", "F24F", "G01C", "G01N", "G01S", "G02B", "G03F", "G05B", "G05D",
    "G06F", "G06N", "G06Q", "G06T", "G06V", "G08G", "G10L", "H01L", "H01M", "H02J", "H02M", "H04B",
    "H04L", "H04N", "H04W", "H05K",
]
_SYLLABLES = ["ra", "to", "mi", "ne", "ka", "lu", "so", "ve", "di", "po", "ar", "en", "il", "or", "un", "ta",
              "ge", "ro", "sa", "ni", "fe", "lo", "ba", "cy", "tr", "ph", "qu", "zo"]
_HAN = "电池装置方法系统控制信号图像数据模块传感器电路材料结构车辆通信网络光学检测处理器存储单元组件机构"


@dataclass(frozen=True, slots=True)
class Corpus:
    """What :func:`generate` made: truth per row (``-1`` = noise) and the generating layout."""

    truth: np.ndarray  # (n,) int64 topic of each row, -1 for noise documents
    field_of_topic: np.ndarray  # (topics,) field of each topic
    seed: int


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def generate(
    out: np.ndarray,
    seed: int = 2026,
    topics: int = 200,
    fields: int = 40,
    noise_share: float = 0.05,
    zipf: float = 0.9,
) -> Corpus:
    """Fill ``out`` (n, d) float32 with unit vectors of clustered topics; return the truth."""
    n, d = out.shape
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    i = np.arange(1, d + 1, dtype=float)
    s = i**-0.2 * np.exp(-i / (0.4 * d))
    s /= np.sqrt((s**2).sum())
    a = (q * s).T

    def shaped(m: int) -> np.ndarray:
        return rng.standard_normal((m, d)) @ a

    g = _unit(rng.standard_normal(d))
    field_centres = _unit(shaped(fields))
    field_of = rng.integers(0, fields, topics)
    topic_centres = _unit(shaped(topics))
    weights = rng.permutation(np.arange(1, topics + 1, dtype=float) ** -zipf)
    truth = rng.choice(topics, size=n, p=weights / weights.sum()).astype(np.int64)
    truth[rng.random(n) < noise_share] = -1
    rank = 16
    for t in range(-1, topics):
        idx = np.flatnonzero(truth == t)
        u = np.linalg.qr(rng.standard_normal((d, rank)))[0]
        if not len(idx):
            continue
        for start in range(0, len(idx), 65536):  # bounded temporaries for the largest topics
            part = idx[start : start + 65536]
            scale = rng.lognormal(0.0, 0.2, (len(part), 1))
            if t < 0:  # noise: somewhere in a field, in no topic, spread wider
                centre = 0.48 * g + 0.45 * field_centres[rng.integers(0, fields, len(part))]
                block = centre + scale * 1.3 * shaped(len(part))
            else:
                centre = 0.48 * g + 0.45 * field_centres[field_of[t]] + 0.5 * topic_centres[t]
                own = rng.standard_normal((len(part), rank)) @ u.T / np.sqrt(rank)
                block = centre + scale * (0.85 * shaped(len(part)) + 0.3 * own)
            out[part] = _unit(block).astype(np.float32)
    return Corpus(truth, field_of, seed)


def _word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4)).tolist())


def documents(corpus: Corpus, zh_share: float = 0.1, start_year: int = 2004, end_year: int = 2024) -> Iterator[dict]:
    """Patent-like records (``id``, title, abstract, date, lang, cpc) aligned with the vectors.

    Each topic has its own small vocabulary and a CPC subclass from its field (80% of its
    documents list it first); a share of documents is Chinese with Chinese words; dates follow
    a per-topic trend so that some topics grow and some fade.
    """
    rng = np.random.default_rng(corpus.seed + 1)
    topics = len(corpus.field_of_topic)
    general = np.array([_word(rng) for _ in range(300)])
    vocab = np.array([[_word(rng) for _ in range(8)] for _ in range(topics)])
    han = np.array([[_HAN[j] + _HAN[(j * 7 + t) % len(_HAN)] for j in rng.choice(len(_HAN), 6, replace=False)]
                    for t in range(topics)])
    trend = rng.normal(0.0, 0.15, topics)
    years = np.arange(start_year, end_year + 1)
    truth = corpus.truth
    n = len(truth)
    # every random draw is made for all rows at once (vectorised), then strings are assembled
    zh = rng.random(n) < zh_share
    topic_or_any = np.where(truth >= 0, truth, rng.integers(0, topics, n))
    own_words = vocab[topic_or_any[:, None], rng.integers(0, 8, (n, 3))]
    common = general[rng.integers(0, len(general), (n, 2))]
    words = np.where((truth >= 0)[:, None], np.concatenate([own_words, common], axis=1),
                     general[rng.integers(0, len(general), (n, 5))])
    chars = han[topic_or_any[:, None], rng.integers(0, 6, (n, 9))]
    field_sub = np.array(SUBCLASSES)[corpus.field_of_topic[topic_or_any] % len(SUBCLASSES)]
    random_sub = np.array(SUBCLASSES)[rng.integers(0, len(SUBCLASSES), n)]
    sub = np.where((truth >= 0) & (rng.random(n) < 0.8), field_sub, random_sub)
    year = rng.choice(years, n)
    for t in range(topics):
        rows = np.flatnonzero(truth == t)
        p = np.exp(trend[t] * (years - years.mean()))
        year[rows] = rng.choice(years, len(rows), p=p / p.sum())
    month, day = rng.integers(1, 13, n), rng.integers(1, 29, n)
    group, main = rng.integers(1, 99, n), rng.integers(0, 99, n)
    for row in range(n):
        w = words[row].tolist()
        if zh[row]:
            c = chars[row].tolist()
            title = "一种" + "".join(c[:3])
            abstract = "本发明公开了" + "，".join(c[3:]) + "。"
        else:
            title = " ".join(w[:4]).capitalize()
            abstract = f"A {' '.join(w)} is disclosed, comprising {w[0]} and {w[2]} and {w[4]}."
        yield {
            "id": f"SYN-{row:08d}",
            "title": title,
            "abstract": abstract,
            "date": f"{year[row]}-{month[row]:02d}-{day[row]:02d}",
            "lang": "zh" if zh[row] else "en",
            "cpc": [f"{sub[row]}{group[row]}/{main[row]:02d}"],
        }


def stats(v: np.ndarray, sample: int = 2000, seed: int = 0) -> dict:
    """Calibration figures: mean random-pair cosine and nearest-neighbour cosines (sampled rows
    against the whole matrix, read in blocks)."""
    rng = np.random.default_rng(seed)
    n = len(v)
    rows = np.sort(rng.choice(n, min(sample, n), replace=False))
    q = np.asarray(v[rows], dtype=np.float32)
    pairs = rng.choice(n, (min(sample, n), 2))
    a = np.asarray(v[np.sort(pairs[:, 0])], dtype=np.float32)
    b = np.asarray(v[np.sort(pairs[:, 1])], dtype=np.float32)
    top = np.full((len(q), 10), -2.0, dtype=np.float32)
    for start in range(0, n, 65536):
        sims = q @ np.asarray(v[start : start + 65536], dtype=np.float32).T
        hit = (rows >= start) & (rows < start + sims.shape[1])
        sims[np.flatnonzero(hit), rows[hit] - start] = -2.0  # not itself
        top = -np.sort(-np.concatenate([top, sims], axis=1), axis=1)[:, :10]
    return {
        "random_pair_cosine_mean": round(float((a * b).sum(axis=1).mean()), 3),
        "nn1_cosine_median": round(float(np.median(top[:, 0])), 3),
        "nn10_cosine_median": round(float(np.median(top[:, 9])), 3),
    }
