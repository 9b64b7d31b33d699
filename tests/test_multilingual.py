"""The embedded multilingual default (USE multilingual v3) for real: translations, cross-lingual
search and maps, passage search on long full-text patents, and how the default is chosen."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from patscape.cli import main
from patscape.embed import load_embedder
from patscape.pipeline import EmbedOptions, build_map, embed, ingest
from patscape.search import search
from patscape.spaces import PassageParams, default_model
from patscape.store import Store

from .conftest import REPO, write_jsonl
from .test_passages import fulltext_records, middle_passage

pytestmark = pytest.mark.model

TRANSLATIONS = [json.loads(line) for line in (REPO / "tests" / "data" / "translations.jsonl").open(encoding="utf-8")]
OTHER_LANGUAGES = ("ja", "ko", "de", "fr", "es", "ru")


@pytest.fixture(scope="session")
def use():
    return load_embedder("use-multilingual")


def top1(source: np.ndarray, target: np.ndarray) -> float:
    """Share of rows of ``source`` whose nearest row of ``target`` is their own translation."""
    return float(np.mean(np.argmax(source @ target.T, axis=1) == np.arange(len(source))))


def test_the_default_reads_the_languages_of_a_patent_team(use) -> None:
    assert use.profile.multilingual and use.native_dims == 512
    english = use.embed([t["en"] for t in TRANSLATIONS]).vectors
    chinese = use.embed([t["zh"] for t in TRANSLATIONS]).vectors
    assert top1(english, chinese) == 1.0 and top1(chinese, english) == 1.0
    with_all = [t for t in TRANSLATIONS if "ja" in t]
    english = use.embed([t["en"] for t in with_all]).vectors
    for lang in OTHER_LANGUAGES:
        other = use.embed([t[lang] for t in with_all]).vectors
        assert top1(other, english) == 1.0, lang
        # a translation is much closer than any other patent in the same language
        sims = other @ english.T
        own = np.diag(sims).copy()
        np.fill_diagonal(sims, -1)
        assert (own - sims.max(axis=1)).min() > 0.1, lang


def test_windows_fit_and_long_texts_are_never_cut(use) -> None:
    text = " ".join(t["en"] for t in TRANSLATIONS) * 3  # about 2,700 tokens
    split = use.split(text, "document")
    assert len(split.chunks) > 5 and split.truncated_tokens == 0
    assert max(use.count(c) for c in split.chunks) <= use.max_tokens
    assert split.chunks[0] == text[: len(split.chunks[0])] and text.endswith(split.chunks[-1])
    # offsets are characters, also for CJK and Hangul (3 bytes each in UTF-8)
    mixed = TRANSLATIONS[0]["zh"] + " " + TRANSLATIONS[0]["ko"]
    spans = use.token_spans(mixed)
    assert spans[0][0] == 0 and spans[-1][1] == len(mixed)
    assert "".join(mixed[a:b] for a, b in spans).replace(" ", "") == mixed.replace(" ", "")


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory: pytest.TempPathFactory, dev_slice: Path, use) -> Store:
    """The English/Chinese dev slice plus the translations in eight languages, embedded by the default."""
    work = tmp_path_factory.mktemp("mixed")
    records = [
        {"id": f"{t['id']}-{lang}", "title": t[lang], "abstract": "", "lang": lang}
        for t in TRANSLATIONS if "ja" in t for lang in ("en", "zh", *OTHER_LANGUAGES)
    ]
    with Store(work / "store") as db:
        ingest(db, [dev_slice, write_jsonl(work / "translations.jsonl", records)])
        report = embed(db, "auto")
        assert report.space.model == "use-multilingual"
        assert report.space.params["default"].startswith("auto: the corpus is multilingual (zh 90")
        yield db


QUERY_PAIRS = [  # (Chinese, English, language of the answers)
    ("用于水下滑翔机的浮力调节装置", "buoyancy adjustment device for an underwater glider", "en"),
    ("卫星天线的展开机构", "deployment mechanism of a satellite antenna", "en"),
    ("车辆夜视系统中的行人检测", "pedestrian detection in a vehicle night vision system", "en"),
    ("一种锂电池固态电解质材料", "solid-state electrolyte material for lithium batteries", "zh"),
    ("基于深度学习的医学图像分割方法", "medical image segmentation method based on deep learning", "zh"),
]


def test_a_chinese_query_finds_english_patents_and_the_reverse(mixed_store: Store) -> None:
    hits = search(mixed_store, "用于水下滑翔机的浮力调节装置", lang="en", k=3)
    assert [h.lang for h in hits] == ["en"] * 3
    assert hits[0].id == "t02-en"  # the invented English glider sentence
    patent = next(h for h in hits if h.id.startswith("US-"))
    assert mixed_store.get_document(patent.id).extra["landscape"]["underwater_glider"] is True
    hits = search(mixed_store, "solid-state electrolyte material for lithium batteries", lang="zh", k=3)
    assert [h.lang for h in hits] == ["zh"] * 3
    assert hits[0].id == "t01-zh"  # the invented Chinese solid-electrolyte sentence
    assert next(h.id for h in hits if h.id.startswith("CN-")) == "CN-118486890-A"  # 一种超支化聚合物电解质
    # the same question asked in Chinese and in English gets largely the same answers
    overlaps = []
    for chinese, english, lang in QUERY_PAIRS:
        a = {h.id for h in search(mixed_store, chinese, lang=lang, k=10)}
        b = {h.id for h in search(mixed_store, english, lang=lang, k=10)}
        overlaps.append(len(a & b))
    assert min(overlaps) >= 3 and sum(overlaps) / len(overlaps) >= 5, overlaps


def test_translations_share_a_topic_in_the_map(mixed_store: Store) -> None:
    together = []
    for seed in (42, 7, 2026, 1, 2):
        run_id = build_map(mixed_store, seed=seed)
        points = {doc_id: cluster for doc_id, cluster, *_ in mixed_store.run_points(run_id)}
        shared = 0
        for t in TRANSLATIONS:
            if "ja" not in t:
                continue
            clusters = Counter(points[f"{t['id']}-{lang}"] for lang in ("en", "zh", *OTHER_LANGUAGES))
            cluster, n = clusters.most_common(1)[0]
            shared += cluster >= 0 and n >= 7
        together.append(shared)
        metrics = mixed_store.get_run(run_id).metrics
        assert metrics["language_mix"]["mixed_topics"] >= 1
        assert set(metrics["code_agreement_by_language"]) == {"en", "zh"}
    # 10 sentences, each in 8 languages, among 320 patents. One seed's map is a coin flip at this
    # size (vectors that differ in the 7th decimal, e.g. embedded in other batches, move a sentence
    # in or out): measured over these five seeds 8, 7, 10, 7, 5 (mean 7.4) and, with embed batches
    # cut at 512 model windows, 7, 8, 8, 9, 8 (mean 8.0); with the packages of 2026-11-25, 9 of 10
    # for seed 42. In 7 of the 8 misses measured on 2026-12-02 most of the sentence's translations
    # were left as outliers together.
    assert sum(together) / len(together) >= 7 and min(together) >= 5, together


def test_default_model_per_corpus(tmp_path: Path, dev_slice: Path) -> None:
    english = [json.loads(line) for line in dev_slice.open(encoding="utf-8") if '"lang": "en"' in line]
    with Store(tmp_path / "en") as db:
        ingest(db, [write_jsonl(tmp_path / "en.jsonl", english[:5])])
        assert default_model(db) == ("minilm", "every document is English")
    with Store(tmp_path / "mixed") as db:
        ingest(db, [dev_slice])
        assert default_model(db) == ("use-multilingual", "the corpus is multilingual (zh 80)")


def test_cli_embed_picks_and_records_the_default(tmp_path: Path, dev_slice: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "store")
    assert main(["ingest", store, str(dev_slice)]) == 0
    assert main(["embed", store]) == 0
    err = capsys.readouterr().err
    assert "model use-multilingual (the corpus is multilingual (zh 80); choose another with --model)" in err
    assert main(["info", store]) == 0
    out = capsys.readouterr().out
    assert "use-multilingual (default: auto: the corpus is multilingual (zh 80)), 512 dims, 320 vectors of title+abstract+claims" in out
    with Store(store, create=False) as db:
        stats = db.passage_stats(db.spaces()[0].key)
    # the Chinese main claims (their `text` field) are cut into passages; English abstracts are not
    assert stats["docs_with_passages"] == 80 and stats["passages"] > 80
    assert f"passages: {stats['passages']} of 80 documents (128 tokens each), 0 documents cut by the cap" in out


def test_passage_search_on_long_specifications(tmp_path: Path, use) -> None:
    records = fulltext_records(30)
    with Store(tmp_path / "store") as db:
        ingest(db, [write_jsonl(tmp_path / "full.jsonl", records)])
        report = embed(db, use, EmbedOptions(passages=PassageParams()))
        stats = db.passage_stats(report.space.key)
        assert stats["docs_with_passages"] == 30 and stats["passage_tokens_cut"] == 0
        first = on_the_spot = 0
        for doc in db.iter_documents():
            start, passage = middle_passage(doc.description)
            hits = search(db, passage, k=10, embedder=use)
            first += hits[0].id == doc.id
            evidence = hits[0].passage
            assert evidence is not None and evidence.text == getattr(db.get_document(hits[0].id), evidence.field)[
                evidence.start : evidence.end]
            on_the_spot += hits[0].id == doc.id and evidence.start < start + len(passage) and start < evidence.end
        assert first >= 29
        # the evidence is mostly the stretch the query was taken from (else a passage of the same
        # patent that says much the same)
        assert on_the_spot >= 26
