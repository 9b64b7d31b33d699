"""Languages: detection, content words per language, labels in a chosen language, keyword search.

The patents of tests/data/lang-patents.jsonl are invented for these tests: in each of English,
Japanese, German, French, Spanish, Russian and Vietnamese three or four about solid-state
lithium battery electrolytes and three about underwater gliders; Korean has battery patents
only, Thai three battery patents and one glider patent.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from patscape.cli import main
from patscape.landscape import MapParams, build_landscape
from patscape.landscape.label import label_topics, subclass
from patscape.records import Document
from patscape.store import Store
from patscape.text import PHRASE_SEPARATOR, detect_language, display_phrase, index_text, phrases, words

from .conftest import REPO, dev_records

RECORDS = [json.loads(line) for line in (REPO / "tests" / "data" / "lang-patents.jsonl").open(encoding="utf-8")]
BATTERY, GLIDER = 0, 1


def lang_corpus() -> tuple[list[Document], np.ndarray]:
    docs = [Document(id=r["id"], title=r["title"], abstract=r["abstract"], lang=r["lang"]) for r in RECORDS]
    topics = np.array([BATTERY if r["topic"] == "battery" else GLIDER for r in RECORDS], dtype=np.int64)
    return docs, topics


# -- detection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本発明は、固体電解質を用いた全固体電池に関する。", "ja"),
        ("固体電解質及び全固体電池の製造方法", "ja"),  # mostly kanji, a little kana
        ("水中グライダー", "ja"),
        ("전고체 전지용 고체 전해질", "ko"),
        ("본 발명은 LiPON 전해질막에 관한 것이다", "ko"),
        ("全固体电池用硫化物固体电解质", "zh"),  # Han without kana
        ("一种基于YOLOv5s的目标检测方法", "zh"),  # a Chinese title with an English model number
        ("一种Transformer模型训练方法", "zh"),
        ("แบตเตอรี่ลิเธียมไอออน", "th"),
        ("Tàu lượn dưới nước", "vi"),
        ("Pin lithium ion có chất điện phân rắn", "vi"),
        ("Способ изготовления твердого электролита для аккумулятора", "ru"),
        ("Винахід стосується підводного планера з двигуном плавучості, який містить гідравлічний насос.", "uk"),
        ("Изобретението се отнася до подводен планер с двигател за плаваемост, който съдържа хидравлична помпа.", "bg"),
        ("Η εφεύρεση αφορά υποβρύχιο ανεμόπτερο με μηχανή άνωσης.", "el"),
        ("ההמצאה מתייחסת לרחפן תת-ימי עם מנוע ציפה.", "he"),
        ("يتعلق الاختراع بمركبة انزلاقية تحت الماء تحتوي على محرك طفو ومضخة هيدروليكية.", "ar"),
        ("این اختراع مربوط به یک گلایدر زیر آبی است که دارای موتور شناوری و پمپ هیدرولیکی می‌باشد.", "fa"),
        ("यह आविष्कार एक पानी के नीचे चलने वाले ग्लाइडर से संबंधित है।", "hi"),
        ("Festkörperbatterie mit einem Festelektrolyt aus Sulfid", "de"),
        ("Batterie tout solide à électrolyte solide", "fr"),
        ("Batería de estado sólido con electrolito sólido", "es"),
        ("Bateria de estado sólido com eletrólito sólido e ânodo de lítio", "pt"),
        ("A solid electrolyte (固体电解质) for a solid-state battery with a lithium metal anode", "en"),
        ("12345 ---", None),
    ],
    ids=lambda value: value if value is None or len(value) <= 3 else "",
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected
    assert detect_language(text) == expected  # deterministic


def test_every_invented_patent_is_detected_in_its_language() -> None:
    detected = {r["id"]: detect_language(f"{r['title']}. {r['abstract']}") for r in RECORDS}
    assert detected == {r["id"]: r["lang"] for r in RECORDS}


# -- words -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ja", "本発明は、硫化物系の固体電解質を備える全固体電池に関する。前記固体電解質は、前記装置の安全性を向上させる。",
         ["硫化物系", "固体", "電解質", "全固体", "電池", "固体", "電解質", "安全性"]),
        ("ja", "請求項1に記載の方法であって、水中グライダーの浮力エンジンは油圧ポンプを備える。",
         ["水中", "グライダー", "浮力", "エンジン", "油圧", "ポンプ"]),
        ("ja", "【課題】高いイオン伝導度を有する硫化物固体電解質を提供する。【解決手段】前記硫化物固体電解質は、"
               "結晶相を含む。【選択図】図１",
         ["イオン", "伝導度", "硫化物", "固体", "電解質", "硫化物", "固体", "電解質", "結晶相"]),
        ("ko", "【요약】 본 발명은 고이온전도성 황화물계 고체전해질 및 이의 제조방법에 관한 것이다. 【대표도】 도 1",
         ["고이온", "전도성", "황화물계", "고체", "전해질", "제조"]),
        ("ko", "본 발명은 황화물계 고체 전해질을 포함하는 전고체 전지에 관한 것이다. 상기 고체 전해질은 상기 장치의 안전성을 향상시킨다.",
         ["황화물계", "고체", "전해질", "고체", "전지", "고체", "전해질", "안전성"]),
        ("ko", "청구항 1에 있어서, 상기 수중 글라이더의 부력 엔진은 유압 펌프를 포함하는 방법.",
         ["수중", "글라이더", "부력", "엔진", "유압", "펌프"]),
        ("de", "Festkörperbatterie, dadurch gekennzeichnet, dass der Festelektrolyt ein Sulfid umfasst, wobei die "
               "Vorrichtung nach Anspruch 1 ein Verfahren der Erfindung betrifft.",
         ["Festkörperbatterie", "Festelektrolyt", "Sulfid"]),
        ("fr", "Dispositif caractérisé en ce que l'électrolyte solide comprend un sulfure de lithium, procédé selon la "
               "revendication 1 de la présente invention.",
         ["électrolyte", "solide", "sulfure", "lithium"]),
        ("es", "Dispositivo caracterizado porque el electrolito sólido comprende un sulfuro de litio, procedimiento "
               "según la reivindicación 1 de la presente invención.",
         ["electrolito", "sólido", "sulfuro", "litio"]),
        ("ru", "Способ изготовления твердого электролита, отличающийся тем, что устройство содержит сульфид лития, "
               "согласно изобретению.",
         ["твердого", "электролита", "сульфид", "лития"]),
        ("vi", "Sáng chế đề cập đến tàu lượn dưới nước, trong đó động cơ sức nổi bao gồm bơm thủy lực.",
         ["tàu", "lượn", "nước", "động", "cơ", "sức", "nổi", "bơm", "thủy", "lực"]),
        ("th", "การประดิษฐ์นี้เกี่ยวข้องกับแบตเตอรี่ ซึ่งอิเล็กโทรไลต์ของแข็งประกอบด้วยซัลไฟด์",
         ["แบตเตอรี่", "อิเล็กโทรไลต์", "ของแข็ง", "ซัลไฟด์"]),
        ("zh", "本发明公开了一种水下滑翔机的浮力调节装置，所述装置包括油囊，其特征在于：所述油囊为橡胶。",
         ["水下", "滑翔机", "浮力", "调节", "油囊", "油囊", "橡胶"]),
        ("en", "An underwater glider comprising a buoyancy engine, wherein said buoyancy engine includes a hydraulic pump.",
         ["underwater", "glider", "buoyancy", "engine", "buoyancy", "engine", "hydraulic", "pump"]),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) == 2 else "",
)
def test_words_are_content_words_without_boilerplate(lang: str, text: str, expected: list[str]) -> None:
    assert words(text, lang) == expected
    assert words(text) == expected  # the language detected from the text gives the same words


def test_phrases_are_shown_as_each_language_writes_them() -> None:
    def shown(text: str, lang: str) -> list[str]:
        return [display_phrase(p) for p in phrases(text, lang) if PHRASE_SEPARATOR in p]

    assert shown("前記水中グライダーの浮力エンジン", "ja") == ["水中グライダー", "浮力エンジン"]
    assert shown("상기 고체 전해질은", "ko") == ["고체 전해질"]
    assert shown("一种水下滑翔机", "zh") == ["水下滑翔机"]
    assert shown("อิเล็กโทรไลต์ของแข็ง", "th") == ["อิเล็กโทรไลต์ของแข็ง"]
    assert shown("Le moteur de flottabilité du planeur sous-marin", "fr") == [
        "moteur de flottabilité", "flottabilité du planeur", "planeur sous-marin"
    ]
    # a run of content words ends at a particle, a verb or boilerplate: no phrase across them
    assert shown("固体電解質を用いた全固体電池", "ja") == ["固体電解質", "全固体電池"]
    assert shown("the glider comprising a pump", "en") == []
    assert display_phrase("YOLOv5s" + PHRASE_SEPARATOR + "模型") == "YOLOv5s 模型"


def test_japanese_does_not_go_through_jieba(monkeypatch: pytest.MonkeyPatch) -> None:
    import patscape.text.segment as text

    def refuse():  # type: ignore[no-untyped-def]
        raise AssertionError("jieba read Japanese text")

    monkeypatch.setattr(text, "_jieba", refuse)
    assert words("固体電解質層の製造方法", "ja") == ["固体", "電解質層", "製造"]
    # the index keeps Sudachi's words and their short units, without particles
    assert index_text("固体電解質層の製造方法", "ja") == "固体 電解質 電解 質 層 製造 方法"


# -- labels ------------------------------------------------------------------------------------
def labels_in(label_lang: str | None) -> dict[int, tuple[str, str]]:
    docs, topics = lang_corpus()
    named = label_topics(docs, topics, np.eye(2, dtype=np.float32)[topics], label_lang=label_lang)
    return {topic: (info.label, info.label_lang) for topic, info in named.items()}


def test_labels_default_to_each_topics_main_language() -> None:
    assert labels_in(None) == {
        BATTERY: ("solid electrolyte · lithium-ion conductivity · solid-state battery", "en"),
        GLIDER: ("underwater glider · buoyancy engine · hydraulic pump", "en"),
    }


@pytest.mark.parametrize(
    ("label_lang", "battery", "glider"),
    [
        ("ja", "固体電解質 · リチウム · 負極", "水中グライダー · 浮力エンジン · 海洋"),
        ("de", "Festkörperbatterie · Festelektrolyt · Anode", "Unterwassergleiter · Auftriebsmotor · Ozean beobachtet"),
        ("fr", "électrolyte solide · anode · batterie", "planeur sous-marin · moteur de flottabilité · océan"),
        ("es", "electrolito sólido · ánodo · litio", "planeador submarino · motor de flotabilidad · océano"),
        ("ru", "твердый электролит · анодом · аккумулятор", "подводный глайдер · плавучести · наблюдения"),
        # Vietnamese words are pairs of syllables here: chained pairs are one term (chất điện phân, electrolyte)
        ("vi", "rắn · chất điện phân · lithium", "tàu lượn · nước · động cơ sức"),
    ],
)
def test_labels_in_the_requested_language(label_lang: str, battery: str, glider: str) -> None:
    assert labels_in(label_lang) == {BATTERY: (battery, label_lang), GLIDER: (glider, label_lang)}


def test_a_topic_without_documents_in_the_label_language_keeps_its_main_language() -> None:
    assert labels_in("ko") == {
        BATTERY: ("고체 전해질 · 리튬 이온 · 전지", "ko"),
        GLIDER: ("underwater glider · buoyancy engine · hydraulic pump", "en"),  # no Korean glider patent
    }
    # one Thai glider patent is enough for a Thai label
    assert labels_in("th") == {
        BATTERY: ("อิเล็กโทรไลต์ของแข็ง · แบตเตอรี่", "th"),
        GLIDER: ("เครื่องร่อน · น้ำ · เครื่องยนต์", "th"),
    }


BOILERPLATE = {
    "en": ("comprising", "wherein", "said", "method", "device"),
    "ja": ("本発明", "前記", "発明", "方法", "装置", "請求項", "実施形態", "提供"),
    "ko": ("상기", "본 발명", "발명", "방법", "장치", "포함", "제공", "청구항", "실시예"),
    "de": ("dadurch", "gekennzeichnet", "umfassend", "wobei", "Vorrichtung", "Verfahren", "Erfindung"),
    "fr": ("caractérisé", "comprenant", "dispositif", "procédé", "invention"),
    "es": ("caracterizado", "comprende", "dispositivo", "procedimiento", "invención"),
    "ru": ("способ", "устройство", "отличающийся", "содержащий", "изобретение"),
    "vi": ("sáng chế", "phương pháp", "thiết bị", "bao gồm"),
    "th": ("การประดิษฐ์", "วิธีการ", "อุปกรณ์", "ประกอบด้วย"),
    "zh": ("所述", "一种", "本发明", "包括", "方法", "装置", "系统", "其特征在于"),
}


def test_keywords_of_every_language_hold_no_boilerplate() -> None:
    docs, topics = lang_corpus()
    named = label_topics(docs, topics, np.eye(2, dtype=np.float32)[topics], min_language_docs=1)
    seen = set()
    for info in named.values():
        for lang, keywords in info.keywords.items():
            seen.add(lang)
            shown = [k for k, _ in keywords]
            assert len(shown) >= 2, (lang, shown)
            for term in BOILERPLATE[lang]:
                assert not any(term in keyword for keyword in shown), (lang, term, shown)
    assert seen == {"en", "ja", "ko", "de", "fr", "es", "ru", "vi", "th"}


def test_chinese_labels_of_real_patents_hold_no_boilerplate() -> None:
    """Topics = the 8 most common IPC subclasses of the 1,467 Chinese patents of the dev corpus."""
    records = [r for r in dev_records() if r["lang"] == "zh"]
    codes = [subclass(r["ipc"][0]) for r in records]
    common = [code for code, _ in Counter(codes).most_common(8)]
    docs = [Document(id=r["id"], title=r["title"], abstract=r["abstract"], text=r["text"], lang="zh") for r in records]
    topics = np.array([common.index(c) if c in common else -1 for c in codes], dtype=np.int64)
    named = label_topics(docs, topics, np.eye(9, dtype=np.float32)[topics])
    labels = {common[t]: info.label for t, info in named.items()}
    assert labels["H01M"] == "电池 · 离子电导率 · 固态电解质"
    # scored against the other topics, 氨基酸序列 (amino-acid sequence) now ranks first
    assert labels["C07K"] == "氨基酸序列 · 蛋白 · 抗体"
    for info in named.values():
        assert info.label_lang == "zh"
        for keyword in [k for k, _ in info.keywords["zh"]] + info.label.split(" · "):
            assert not any(term in keyword for term in BOILERPLATE["zh"] + ("实施例", "权利要求", "本申请")), keyword


def test_build_landscape_labels_in_label_lang() -> None:
    docs, topics = lang_corpus()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 32))
    vectors = (centres[topics] + rng.normal(scale=0.2, size=(len(docs), 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    params = MapParams(min_cluster_size=8, n_neighbors=10, label_lang="ja")
    landscape = build_landscape([d.id for d in docs], vectors, docs, params, seed=1)
    assert landscape.params.label_lang == "ja"
    assert sorted((t["label"], t["label_lang"]) for t in landscape.topics) == [
        ("固体電解質 · リチウム · 負極", "ja"),
        ("水中グライダー · 浮力エンジン · 海洋", "ja"),
    ]
    with pytest.raises(ValueError, match="label_lang"):
        MapParams(label_lang="Japanese").validate()


def test_map_command_has_label_lang(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["map", "--help"]) == 0
    assert "--label-lang zh" in capsys.readouterr().out
    assert main(["map", str(tmp_path / "store"), "--label-lang", "Chinese"]) != 0
    assert "label_lang must be an ISO 639-1 code" in capsys.readouterr().err


# -- keyword search ----------------------------------------------------------------------------
def test_keyword_search_finds_japanese_korean_and_thai_patents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    docs, _ = lang_corpus()
    with Store(tmp_path / "store") as store:
        store.write_documents(docs)

        def found(query: str) -> set[str]:
            return {doc_id for doc_id, _ in store.keyword_search(query, 10)}

        assert found("電解質") == {"JA-001", "JA-002", "JA-003"}
        assert found("浮力エンジン") == {"JA-004", "JA-005"}
        assert found("グライダーの姿勢") == {"JA-004", "JA-005", "JA-006"}
        assert found("전해질") == {"KO-001", "KO-002", "KO-003"}
        assert found("고체전해질층을") == {"KO-001", "KO-002", "KO-003"}  # particles and spacing do not matter
        assert found("덴드라이트") == {"KO-003"}
        assert found("อิเล็กโทรไลต์") == {"TH-001", "TH-002", "TH-003"}
        assert found("Festelektrolyt") == {"DE-001", "DE-002", "DE-003"}
