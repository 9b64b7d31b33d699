"""Text utilities shared by ingestion, keyword search and topic labelling.

Language detection, word tokenisation per language (jieba for Chinese) and the patent
boilerplate that must never become a topic keyword.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_LATIN_WORD = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]{2,}", re.UNICODE)
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Words of patent prose that say nothing about the technology.
PATENT_STOP_WORDS_EN = frozenset(
    """
    comprising comprises comprise comprised wherein whereby wherein thereof therein thereto thereby
    said plurality first second third fourth configured method methods system systems apparatus
    apparatuses device devices invention inventions present provided provides provide providing
    includes including include included disclosed discloses disclosure embodiment embodiments
    according least based having unit units means portion portions member members one two three
    used use uses using utilize utilizing may also such can further respective respectively
    predetermined determined determining corresponding relates related relating particular
    particularly generally general example examples described describes herein claim claims
    claimed accordance substantially wherein arranged arrangement adapted operable capable
    associated associating coupled connected connecting configured configuration set sets
    thereon therewith well new improved plural within without via upon whether another
    different given specific certain various way ways part parts end ends side sides
    type types form forms formed forming order addition additionally additional main
    manner state states
    """.split()
)
PATENT_STOP_WORDS_ZH = frozenset(
    """
    所述 一种 本发明 本申请 其特征在于 特征 包括 包含 方法 装置 系统 设备 用于 步骤 进行 通过 具有 以及
    其中 根据 提供 技术 领域 公开 涉及 实现 应用 制备 得到 获取 基于 相关 能够 可以 所 该 以上 以下
    第一 第二 第三 第四 多个 至少 一个 两个 采用 利用 使用 使得 之间 分别 对应 相应 设置 连接 位于 属于
    方案 具体 优选 实施 实施例 发明 有效 效果 问题 解决 目的 本 一 及 或 与 和 的 了 对 在 为 将 由 从
    中 上 下 等 并 且 其 是 有 于 被 后 前 内 外 时 个 所示 如下 如上 任意 选自 结构 式 权利要求 进一步
    过程 操作 处理 模块 单元 部分 组成 构成 作为 还 可 同时 然后 之后 首先 其次 最后 能 较 高 低
    及其 提高 条件 产生 结果 构建 包括有 所得 得到的 具备 良好 较好 显著 简单 成本 领域内 现有 相比 其它 其他 不同
    本公开 本实用新型 涉及到 一种新 新型 用途 含有 加入 进而 从而 以便 例如 如 即 该方法 所述方法
    """.split()
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | PATENT_STOP_WORDS_EN | PATENT_STOP_WORDS_ZH


def normalize(text: str | None) -> str:
    """NFC, control characters removed, whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (``None`` when there is nothing to detect).

    CJK scripts are recognised by their characters; other languages by ``langdetect`` with a
    fixed seed, so the same text always gets the same answer.
    """
    sample = text[:2000]
    letters = _LETTER.findall(sample)
    if not letters:
        return None
    if len(_KANA.findall(sample)) > 0.05 * len(letters):
        return "ja"
    if len(_HANGUL.findall(sample)) > 0.2 * len(letters):
        return "ko"
    if len(_HAN.findall(sample)) > 0.2 * len(letters):
        return "zh"
    return _langdetect(sample)


_ENGLISH_HINTS = frozenset("the a an of and to in for with by on is are from that which".split())


def _langdetect(sample: str) -> str | None:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        guesses = detect_langs(sample)
    except LangDetectException:
        return None
    best = guesses[0]
    # Short texts fool the detector; English function words settle an unsure guess.
    if best.prob < 0.9 and sample.isascii() and _ENGLISH_HINTS & set(sample.lower().split()):
        return "en"
    return str(best.lang).split("-")[0]


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str, lang: str | None = None) -> list[str]:
    """Content words of ``text``: lower-cased, stop words and patent boilerplate removed.

    Chinese (and any text containing Han characters) is segmented with jieba; Han words need
    two or more characters, other words three or more letters.
    """
    if not text:
        return []
    if lang in ("zh", "ja") or has_han(text):
        tokens = (t.strip().lower() for t in _jieba().cut(text))
    else:
        tokens = (m.group(0).lower() for m in _LATIN_WORD.finditer(text))
    out = []
    for token in tokens:
        if not token or token in STOP_WORDS:
            continue
        if has_han(token):
            if len(token) < 2 or not all(_HAN.match(ch) for ch in token):
                continue
        elif len(token) < 3 or not _LETTER.match(token) or token.isdigit():
            continue
        out.append(token)
    return out


PHRASE_SEPARATOR = "\x1f"


def phrases(text: str, lang: str | None = None) -> list[str]:
    """Words plus two-word phrases of adjacent content words.

    A phrase's words are joined by :data:`PHRASE_SEPARATOR`; :func:`display_phrase` turns it
    into ``"underwater glider"`` (or ``"水下滑翔机"`` for Han words).
    """
    tokens = words(text, lang)
    bigrams = [a + PHRASE_SEPARATOR + b for a, b in zip(tokens, tokens[1:]) if a != b]
    return tokens + bigrams


def display_phrase(term: str) -> str:
    parts = term.split(PHRASE_SEPARATOR)
    joiner = "" if all(has_han(p) for p in parts) else " "
    return joiner.join(parts)


def index_text(text: str, lang: str | None) -> str:
    """Text as the full-text index sees it: Han runs segmented into words, all lower case."""
    text = normalize(text).lower()
    if lang in ("zh", "ja") or has_han(text):
        return " ".join(t for t in _jieba().cut_for_search(text) if t.strip())
    return text
