"""Topic labels on hand-made documents: contrast among siblings, a parent named from its children,
one keyword per idea, no figure or reference numbers, unique labels, every language."""

from __future__ import annotations

import numpy as np

from patscape.landscape.label import TopicLabel, label_levels, label_topics
from patscape.records import Document
from patscape.text.keywords import is_numbering, light_stem


def docs_of(*texts: str, lang: str = "en", start: int = 0) -> list[Document]:
    return [Document(id=f"{lang}{start + i}", title=t, lang=lang) for i, t in enumerate(texts)]


def keywords(info: TopicLabel, lang: str = "en") -> list[str]:
    return [k for k, _ in info.keywords[lang]]


def hierarchy() -> tuple[list[Document], list[np.ndarray], list[dict[int, int]]]:
    """Two parents with two children each. Every battery patent says "battery", every glider
    patent "glider"; each child has a word of its own."""
    texts = [
        # parent 0, child 0: lithium anodes
        "Battery lithium anode", "Lithium anode for a battery", "Battery with a lithium anode coating",
        "Lithium anode battery", "Lithium battery anode",
        # parent 0, child 1: cooling
        "Battery cooling plate", "Cooling plate of a battery pack", "Battery pack cooling plate",
        "Cooling plate battery", "Battery cooling plate channels",
        # parent 1, child 2: buoyancy
        "Glider buoyancy engine", "Buoyancy engine of a glider", "Glider with a buoyancy engine pump",
        "Buoyancy engine glider", "Glider buoyancy engine bladder",
        # parent 1, child 3: acoustic modems
        "Glider acoustic modem", "Acoustic modem for a glider", "Glider acoustic modem antenna",
        "Acoustic modem glider", "Glider with acoustic modem",
    ]
    docs = docs_of(*texts)
    children = np.repeat(np.arange(4), 5).astype(np.int64)
    parents = (children // 2).astype(np.int64)
    return docs, [parents, children], [{}, {0: 0, 1: 0, 2: 1, 3: 1}]


def test_siblings_contrast_and_a_parent_is_named_by_what_its_children_share() -> None:
    docs, levels, parents = hierarchy()
    top, children = label_levels(docs, levels, parents, np.eye(len(docs), dtype=np.float32))
    assert {t: info.label for t, info in children.items()} == {
        0: "lithium anode",
        1: "cooling plate · battery pack",
        2: "buoyancy engine",
        3: "acoustic modem",
    }
    # the word every child of a parent uses names the parent, and no child
    assert {t: info.label for t, info in top.items()} == {0: "battery · lithium anode · cooling plate",
                                                         1: "glider · buoyancy engine · acoustic modem"}
    for t, info in children.items():
        assert not {"battery", "glider"} & set(keywords(info)), info.keywords
    assert [info.languages for info in top.values()] == [{"en": 10}, {"en": 10}]
    assert top[0].representatives == ["en0", "en1", "en2"] and children[3].representatives == ["en15", "en16", "en17"]


def test_a_parent_weighs_its_children_by_size() -> None:
    """What both children say first, then the big child's words, then the small child's."""
    texts = ["Sensor. Radar antenna."] * 6 + ["Sensor. Sonar transducer."] * 2 + ["Pump valve."] * 4
    docs = docs_of(*texts)
    children = np.array([0] * 6 + [1] * 2 + [2] * 4, dtype=np.int64)
    top_nodes = np.array([0] * 8 + [1] * 4, dtype=np.int64)
    top, below = label_levels(docs, [top_nodes, children], [{}, {0: 0, 1: 0, 2: 1}], np.eye(12, dtype=np.float32))
    assert top[0].label == "sensor · radar antenna · sonar transducer"
    assert below[0].label == "radar antenna" and below[1].label == "sonar transducer"


def test_a_phrase_beats_its_words_and_inflections_are_one_keyword() -> None:
    texts = [
        "Underwater glider for cosmetic surveys", "Underwater gliders carry cosmetics",
        "An underwater glider and its cosmetic", "Cosmetics on underwater gliders",
        "Pump", "Pump valve", "Valve pump", "Pump housing",
    ]
    docs = docs_of(*texts)
    topics = np.array([0] * 4 + [1] * 4, dtype=np.int64)
    named = label_topics(docs, topics, np.eye(8, dtype=np.float32))
    assert named[0].label == "underwater glider · cosmetic"  # "cosmetic" in 2 documents, "cosmetics" in 2
    assert keywords(named[0]) == ["underwater glider", "cosmetic"]  # "surveys", "carry": one document each
    assert named[1].label == "pump · valve"


def test_chinese_terms_inside_kept_terms_are_one_keyword() -> None:
    # 电池 (battery) inside 锂电池 (lithium battery), 滑翔机 (glider) inside 水下滑翔机 (underwater glider)
    texts = ["锂电池", "锂电池", "电池和锂电池", "电池和锂电池"]
    other = ["水下滑翔机", "水下滑翔机", "滑翔机", "滑翔机"]
    docs = docs_of(*texts, lang="zh") + docs_of(*other, lang="zh", start=4)
    named = label_topics(docs, np.array([0] * 4 + [1] * 4, dtype=np.int64), np.eye(8, dtype=np.float32))
    # one word (锂电池) or a phrase (水下 滑翔机) for jieba: the longer term wins either way
    assert [keywords(named[t], "zh") for t in (0, 1)] == [["锂电池"], ["水下滑翔机"]]


def test_figure_claim_step_and_reference_numbers_are_no_keywords() -> None:
    texts = [
        "Radar antenna 102 as shown in FIG. 3, see claim 1",
        "In step S102 the radar antenna 10a rotates (FIGS. 4A-4B)",
        "Radar antenna, figure 2, reference numeral 104b, embodiment",
        "The present invention: a radar antenna, wherein item no.5 and S-1 are the same",
        "Pump valve", "Pump valve", "Pump valve", "Pump valve",
    ]
    docs = docs_of(*texts)
    named = label_topics(docs, np.array([0] * 4 + [1] * 4, dtype=np.int64), np.eye(8, dtype=np.float32))
    assert keywords(named[0]) == ["radar antenna"]
    for word in ("s102", "s-1", "no.5", "104b", "obj101", "v1-v11", "d90-d10"):
        assert is_numbering(word), word
    for word in ("co2", "h1n1", "cd47", "yolov5", "mpeg-2", "antenna"):
        assert not is_numbering(word), word


def test_light_stem_folds_plurals_and_inflections_only() -> None:
    same = [("batteries", "battery"), ("lenses", "lens"), ("cosmetics", "cosmetic"), ("switches", "switch"),
            ("coatings", "coating"), ("coated", "coating"), ("images", "imaging"), ("controlled", "control"),
            ("processes", "process"), ("gases", "gas"), ("fans", "fan")]
    for a, b in same:
        assert light_stem(a) == light_stem(b), (a, b)
    for a, b in [("casing", "case"), ("glass", "glas"), ("analysis", "analys"), ("Anoden", "Anode")]:
        assert light_stem(a) != light_stem(b), (a, b)
    assert light_stem("電解質") == "電解質" and light_stem("ring") == "ring"


def test_labels_are_unique_within_a_level() -> None:
    """Two topics with the same three best words: the larger keeps them, the other shows its next
    keyword instead of its third; two topics with nothing else to tell them apart get a number."""
    a = ["Radar. Antenna. Beam. Sonar."] * 2 + ["Radar. Antenna. Beam."] * 4
    b = ["Radar. Antenna. Beam. Lidar."] * 2 + ["Radar. Antenna. Beam."] * 3
    c = ["Pump. Valve."] * 2
    d = ["Pump. Valve."] * 2
    rest = ["Hull."] * 20
    docs = docs_of(*a, *b, *c, *d, *rest)
    topics = np.array([0] * 6 + [1] * 5 + [2] * 2 + [3] * 2 + [-1] * 20, dtype=np.int64)
    named = label_topics(docs, topics, np.eye(len(docs), dtype=np.float32))
    assert [keywords(named[t]) for t in (0, 1)] == [
        ["radar", "antenna", "beam", "sonar"], ["radar", "antenna", "beam", "lidar"],
    ]
    assert {t: info.label for t, info in named.items()} == {
        0: "radar · antenna · beam",
        1: "radar · antenna · lidar",
        2: "pump · valve",
        3: "pump · valve (2)",
    }


def test_every_language_gets_keywords_and_label_lang_is_honoured() -> None:
    en = ["Underwater glider buoyancy"] * 3
    zh = ["水下滑翔机浮力"] * 3
    de = ["Unterwassergleiter Auftrieb"] * 3
    other = ["Battery electrode"] * 3
    docs = docs_of(*en) + docs_of(*zh, lang="zh") + docs_of(*de, lang="de") + docs_of(*other, start=3)
    topics = np.array([0] * 9 + [1] * 3, dtype=np.int64)
    vectors = np.eye(len(docs), dtype=np.float32)
    named = label_topics(docs, topics, vectors)
    assert {lang: keywords(named[0], lang) for lang in named[0].keywords} == {
        "en": ["underwater glider buoyancy"], "zh": ["水下滑翔机浮力"], "de": ["Unterwassergleiter Auftrieb"],
    }
    assert (named[0].label, named[0].label_lang) == ("underwater glider buoyancy", "en")  # ties: first seen
    in_chinese = label_topics(docs, topics, vectors, label_lang="zh")
    assert (in_chinese[0].label, in_chinese[0].label_lang) == ("水下滑翔机浮力", "zh")
    assert (in_chinese[1].label, in_chinese[1].label_lang) == ("battery electrode", "en")  # no Chinese document
    # fewer than min_language_docs documents in a language: no keywords in it, unless it is the label language
    few = label_topics(docs[:3] + docs[3:4] + docs[9:], np.array([0] * 4 + [1] * 3, dtype=np.int64),
                       np.eye(7, dtype=np.float32))
    assert set(few[0].keywords) == {"en"} and few[0].languages == {"en": 3, "zh": 1}


def test_outliers_are_in_no_node() -> None:
    docs, levels, parents = hierarchy()
    noisy = docs + docs_of("Battery glider lithium acoustic noise", "Battery glider noise", start=20)
    levels = [np.concatenate([level, [-1, -1]]) for level in levels]
    vectors = np.eye(len(noisy), dtype=np.float32)
    top, children = label_levels(noisy, levels, parents, vectors)
    assert sorted(top) == [0, 1] and sorted(children) == [0, 1, 2, 3]
    assert sum(sum(info.languages.values()) for info in children.values()) == 20
    nodes = [*top.values(), *children.values()]
    assert not any(r in {"en20", "en21"} for info in nodes for r in info.representatives)
    without = label_levels(docs, [lv[:20] for lv in levels], parents, vectors[:20, :20])[1]
    assert [info.label for info in children.values()] == [info.label for info in without.values()]


def test_label_topics_is_label_levels_with_one_level() -> None:
    docs, levels, parents = hierarchy()
    vectors = np.eye(len(docs), dtype=np.float32)
    assert label_topics(docs, levels[1], vectors) == label_levels(docs, levels[1:], [{}], vectors)[0]
