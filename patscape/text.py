"""Text utilities shared by ingestion, keyword search and topic labelling.

Language detection, the content words of a text in its language, and the patent boilerplate
that must never become a topic keyword. Chinese is segmented with jieba, Japanese with Sudachi
(SudachiDict-core), Korean with Kiwi (kiwipiepy), Thai with PyThaiNLP; other languages are split
at spaces and punctuation. Each segmenter loads on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Hiragana and katakana proper, without the middle dot and the long-vowel mark: Chinese uses those too.
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")
_HIRAGANA_WORD = re.compile(r"[\u3041-\u309f]+")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
# Scripts written without spaces between words (a phrase of them is shown without one).
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Vowels with a hook or a dot below, and o/u with a horn: letters only Vietnamese uses this much.
_VIETNAMESE = re.compile(r"[\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_LATIN_WORD = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]{2,}", re.UNICODE)
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}<>\"«»“”„]|\s[-–—]\s")
# Section headings of Japanese, Korean and Chinese abstracts: 【課題】, 【解決手段】, 【요약】.
_HEADING = re.compile(r"【[^】]{1,12}】")
_SENTENCE_END = re.compile(r"(?<=[。．.!?！？\n])")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Scripts other than Latin and Han/kana: letters, the weight of one letter against a Latin one,
#: and the languages written in it (several: langdetect chooses among them).
_SCRIPTS: tuple[tuple[re.Pattern[str], int, tuple[str, ...]], ...] = (
    (_HANGUL, 2, ("ko",)),
    (re.compile(r"[\u0e00-\u0e7f]"), 1, ("th",)),
    (re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"), 1, ("el",)),
    (re.compile(r"[\u0590-\u05ff]"), 1, ("he",)),
    (re.compile(r"[\u0900-\u097f]"), 1, ("hi",)),
    (re.compile(r"[\u0400-\u04ff]"), 1, ("ru", "uk", "bg", "mk", "sr")),
    (re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"), 1, ("ar", "fa", "ur")),
)
#: A Han or kana character says about as much as three Latin letters.
_CJK_WEIGHT = 3


def _stop_list(text: str) -> frozenset[str]:
    """Whitespace-separated entries; ``_`` joins the words of a phrase (``sáng_chế``)."""
    return frozenset(entry.replace("_", " ") for entry in text.split())


#: Function words and patent boilerplate per language (lower case). English ones apply to every
#: language, since patents of every country carry English terms.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(ENGLISH_STOP_WORDS) | _stop_list("""
        comprising comprises comprise comprised wherein whereby thereof therein thereto thereby said plurality
        first second third fourth configured method methods system systems apparatus apparatuses device devices
        invention inventions present provided provides provide providing includes including include included
        disclosed discloses disclosure embodiment embodiments according least based having unit units means
        portion portions member members one two three used use uses using utilize utilizing may also such can
        further respective respectively predetermined determined determining corresponding relates related
        relating particular particularly generally general example examples described describes herein claim
        claims claimed accordance substantially arranged arrangement adapted operable capable associated
        associating coupled connected connecting configuration set sets thereon therewith well new improved
        plural within without via upon whether another different given specific certain various way ways part
        parts end ends side sides type types form forms formed forming order addition additionally additional
        main manner state states
    """),
    "zh": _stop_list("""
        所述 一种 本发明 本申请 其特征在于 特征 包括 包含 方法 装置 系统 设备 用于 步骤 进行 通过 具有 以及
        其中 根据 提供 技术 领域 公开 涉及 实现 应用 制备 得到 获取 基于 相关 能够 可以 所 该 以上 以下
        第一 第二 第三 第四 多个 至少 一个 两个 采用 利用 使用 使得 之间 分别 对应 相应 设置 连接 位于 属于
        方案 具体 优选 实施 实施例 发明 有效 效果 问题 解决 目的 本 一 及 或 与 和 的 了 对 在 为 将 由 从
        中 上 下 等 并 且 其 是 有 于 被 后 前 内 外 时 个 所示 如下 如上 任意 选自 结构 式 权利要求 进一步
        过程 操作 处理 模块 单元 部分 组成 构成 作为 还 可 同时 然后 之后 首先 其次 最后 能 较 高 低
        及其 提高 条件 产生 结果 构建 包括有 所得 得到的 具备 良好 较好 显著 简单 成本 领域内 现有 相比 其它 其他 不同
        本公开 本实用新型 实用新型 实用 设有 涉及到 一种新 新型 用途 含有 加入 进而 从而 以便 例如 如 即 该方法 所述方法
        确定 申请 广泛 在于
    """),
    "ja": _stop_list("""
        本発明 本開示 発明 前記 上記 下記 当該 該 方法 装置 請求項 請求 記載 実施形態 実施 形態 実施例 態様 提供
        本 各 同 第 等 用 など 及び 並びに 又は 若しくは 場合 こと もの ため とき よう ところ 以上 以下 未満 少なくとも
        複数 所定 一方 他方 前 後 上 下 中 内 外 間 側 部 特徴 構成 手段 工程 ステップ システム デバイス ユニット
        モジュール 部材 用途 使用 利用 目的 課題 解決 効果 技術 分野 向上 改善 改良 可能 対応 関連 含有 備え 図 文献
        特許
    """),
    "ko": _stop_list("""
        상기 본 발명 본발명 방법 장치 포함 제공 청구항 청구 기재 실시예 실시 형태 실시형태 특징 구성 단계 시스템
        기기 수단 부 부재 유닛 모듈 이용 사용 경우 것 수 등 및 또는 이상 이하 적어도 하나 복수 소정 대응 관련
        목적 과제 해결 효과 기술 분야 향상 개선 가능 일 측면 개시 도면 상 하 내 외 후 중 각 제 용 측
    """),
    "th": _stop_list("""
        การประดิษฐ์ สิ่งประดิษฐ์ วิธีการ วิธี อุปกรณ์ ระบบ ประกอบด้วย ข้อถือสิทธิ ซึ่ง ดังกล่าว ที่ ของ และ หรือ
    """),
    "de": _stop_list("""
        der die das den dem des ein eine einer eines einem einen und oder mit von vom für auf aus bei beim nach
        über unter durch zum zur als auch sich sind ist wird werden wurde wurden worden kann können soll sollen
        muss dass daß wenn welche welcher welches welchen welchem dieser diese dieses diesem diesen jeder jede
        jedes jedem jeden mindestens wenigstens zumindest zwei drei erste ersten erster erstes zweite zweiten
        zweiter zweites dritte nicht noch nur wie bzw insbesondere vorzugsweise derart gemäß hierbei hierzu
        darin dabei davon dazu damit sodass somit bis zwischen gegen ohne sowie ihre ihrer ihren seine seiner
        seinen mehrere mehreren weitere weiteren weiterer jeweils entsprechend entsprechende
        dadurch gekennzeichnet umfassend umfasst umfassen aufweisend aufweist aufweisen wobei vorrichtung
        vorrichtungen verfahren erfindung system systeme einrichtung anordnung mittel element elemente einheit
        anspruch ansprüche ausführungsform ausführungsformen ausführungsbeispiel vorliegende vorliegenden
        bereitgestellt bereitstellen bereitstellung betrifft herstellung verwendung verwendet teil bereich
        vorgesehen ausgebildet eingerichtet
    """),
    "fr": _stop_list("""
        les des une du la le et ou pour par avec dans sur sous entre est sont être été qui que dont cette ces cet
        son sa ses leur leurs aux au plus moins selon ainsi comme tel telle tels telles lequel laquelle lesquels
        lesquelles ledit ladite lesdits lesdites premier première premiers premières second seconde deuxième
        troisième également notamment chaque plusieurs lors afin avoir peut peuvent non pas tout toute tous
        toutes elle ils elles autre autres même caractérisé caractérisée caractérisés comprenant comprend
        comprennent comportant comporte dispositif dispositifs procédé procédés invention système systèmes moyen
        moyens élément éléments unité revendication revendications mode modes réalisation présente concerne
        fourni fournit fournir utilisation utilisé fabrication ensemble partie
    """),
    "es": _stop_list("""
        los las del una unos unas por para con que como sus entre sobre sin más cada dicho dicha dichos dichas
        primer primero primera segundo segunda tercer mediante además través este esta estos estas cual cuales
        donde ser está están son puede pueden sido tiene tienen también menos mismo misma otro otra otros otras
        desde hasta según porque caracterizado caracterizada comprende comprenden comprendiendo dispositivo dispositivos
        procedimiento procedimientos método métodos invención sistema sistemas aparato medio medios elemento
        elementos unidad reivindicación reivindicaciones realización presente refiere proporciona proporcionar
        fabricación uso parte
    """),
    "pt": _stop_list("""
        dos das uma umas uns para com que como seus suas entre sobre sem mais cada dito dita ditos ditas
        primeiro primeira segundo segunda através este esta estes estas qual quais onde ser está estão são pode
        podem pelo pela pelos pelas também menos mesmo outro outra caracterizado caracterizada compreende
        compreendendo compreendem dispositivo método processo invenção sistema aparelho meio meios elemento
        unidade reivindicação reivindicações modalidade realização presente refere proporciona fabricação uso parte
    """),
    "it": _stop_list("""
        dei degli delle della dello del una uno per con che come suoi sue tra fra sopra senza più ogni detto
        detta detti dette primo prima secondo seconda mediante inoltre attraverso questo questa questi queste
        quale quali dove essere sono può possono anche meno stesso altro altra nella nel nei nelle dal dalla
        alla allo agli alle sul sulla comprende comprendente comprendenti caratterizzato caratterizzata
        dispositivo metodo procedimento invenzione sistema apparato mezzo mezzi elemento unità rivendicazione
        rivendicazioni forma realizzazione presente riguarda fornisce fabbricazione uso parte
    """),
    "nl": _stop_list("""
        het een van voor met dat die deze dit door aan als ook zijn wordt worden werd kan kunnen bij naar over
        onder tussen zonder meer elke elk eerste tweede derde waarbij waarin welke omvattend omvat omvatten
        gekenmerkt inrichting werkwijze uitvinding systeem apparaat middel middelen element eenheid conclusie
        conclusies uitvoeringsvorm onderhavige betreft verschaft vervaardiging gebruik deel
    """),
    "ru": _stop_list("""
        для или что как при это этот эта эти этого которые который которая которое которого которой котором
        также более менее между через его ее её их не но же то под над без после каждый каждая каждое один одна
        одно два две первый первая первое первого второй вторая второе второго так где когда чем может могут
        является являются был была было были быть есть все всё весь вся
        способ способа способу способом устройство устройства устройству устройством отличающийся
        отличающаяся отличающееся отличающиеся содержащий содержащая содержащее содержащие содержит содержат
        изобретение изобретения изобретению изобретением система системы систему средство средства элемент
        элемента элементы блок блока узел узла формула пункт пункта выполнен выполнена выполнено выполненный
        выполненная предназначенный относится обеспечивает обеспечения использование использования
        позволяет помощью основе виде тем согласно изготовления изготовление получения получение причем
        причём отличающемуся отличающейся имеет имеют представляет собой
    """),
    "vi": _stop_list("""
        của và các được trong cho với này một những có là để theo từ bằng khi đến trên dưới hoặc đó nào mỗi
        như cũng không đã sẽ tại về nhiều thứ nhất hai hơn sau trước giữa vào do ra vì đi nó sự mà bị
        sáng_chế phương_pháp thiết_bị hệ_thống bao_gồm trong_đó đặc_trưng yêu_cầu bảo_hộ giải_pháp lĩnh_vực
        kỹ_thuật liên_quan cung_cấp sử_dụng thực_hiện bộ_phận đề_cập sản_xuất cải_tiến
    """),
}
#: Languages whose nouns are capitalised: their words keep their case ("Festelektrolyt").
_KEEPS_CASE = frozenset({"de", "lb"})
#: Letters a word of a space-separated language needs (3 unless listed): Vietnamese spaces syllables.
_MIN_LETTERS = {"vi": 2}
#: Short words that join two nouns into one term ("moteur de flottabilité"); kept in phrases.
_CONNECTORS = {
    "fr": frozenset({"de", "du", "des", "à"}),
    "es": frozenset({"de", "del"}),
    "pt": frozenset({"de", "do", "da", "dos", "das"}),
    "it": frozenset({"di", "del", "della", "dei", "delle"}),
}


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

    The script with the most letters decides (a Han or kana character counts three, a Hangul
    syllable two): Han with kana (5% or more of them) is Japanese, Han alone Chinese, Hangul
    Korean, Thai, Greek, Hebrew and Devanagari name their language; for Cyrillic and Arabic
    script, and for Latin script other than Vietnamese, ``langdetect`` decides with a fixed
    seed, so the same text always gets the same answer.
    """
    sample = unicodedata.normalize("NFC", text[:2000])
    letters = "".join(_LETTER.findall(sample))
    if not letters:
        return None
    han, kana = len(_HAN.findall(letters)), len(_KANA.findall(letters))
    counts = [len(pattern.findall(letters)) for pattern, _, _ in _SCRIPTS]
    other = len(letters) - han - kana - sum(counts)  # Latin, mostly
    scores = [count * weight for count, (_, weight, _) in zip(counts, _SCRIPTS)]
    best = max(range(len(scores)), key=scores.__getitem__)
    if han + kana and _CJK_WEIGHT * (han + kana) >= max(other, scores[best]):
        return "ja" if kana >= 0.05 * (han + kana) else "zh"
    if scores[best] > other:
        languages = _SCRIPTS[best][2]
        return languages[0] if len(languages) == 1 else _langdetect(sample, languages)
    if len(_VIETNAMESE.findall(letters)) >= max(2, 0.03 * len(letters)):
        return "vi"
    return _langdetect(sample)


_ENGLISH_HINTS = frozenset("the a an of and to in for with by on is are from that which".split())


def _langdetect(sample: str, among: tuple[str, ...] = ()) -> str | None:
    """langdetect's best guess, or its best among ``among`` (the first of them if it has none)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        guesses = detect_langs(sample)
    except LangDetectException:
        return among[0] if among else None
    codes = [str(guess.lang).split("-")[0] for guess in guesses]
    if among:
        return next((code for code in codes if code in among), among[0])
    # Short texts fool the detector; English function words settle an unsure guess.
    if guesses[0].prob < 0.9 and sample.isascii() and _ENGLISH_HINTS & set(sample.lower().split()):
        return "en"
    return codes[0]


# -- segmenters --------------------------------------------------------------------------------
# A segmenter turns text into pieces (text, kind, touches the piece before it) and ``None``
# where a run of content words ends (a particle, a verb, punctuation). Kinds: "word", "prefix"
# (belongs to the word after it) and "suffix" (belongs to the word before it, or after it when
# it starts a run). One-character nouns are suffixes: 膜 in 電解質膜, 압 in 유압.
Piece = tuple[str, str, bool]


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=1)
def _sudachi_dictionary():  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary

    return Dictionary(dict="core")


_THREAD = threading.local()


def _sudachi():  # type: ignore[no-untyped-def]
    """This thread's Sudachi tokenizer (long units); one tokenizer cannot serve two threads."""
    if not hasattr(_THREAD, "sudachi"):
        from sudachipy import SplitMode

        _THREAD.sudachi = _sudachi_dictionary().tokenizer(mode=SplitMode.C)
    return _THREAD.sudachi


@lru_cache(maxsize=1)
def _kiwi():  # type: ignore[no-untyped-def]
    from kiwipiepy import Kiwi

    return Kiwi()


def _chunks(text: str, size: int = 4000) -> Iterator[str]:
    """``text`` in pieces of at most ``size`` characters, cut after sentences where possible."""
    chunk = ""
    for sentence in _SENTENCE_END.split(text):
        if chunk and len(chunk) + len(sentence) > size:
            yield chunk
            chunk = ""
        while len(sentence) > size:
            yield sentence[:size]
            sentence = sentence[size:]
        chunk += sentence
    if chunk:
        yield chunk


def _spaced_pieces(text: str) -> Iterator[Piece | None]:
    for clause in _CLAUSE_BREAK.split(text):
        for match in _LATIN_WORD.finditer(clause):
            yield match.group(0), "word", True
        yield None


def _chinese_pieces(text: str) -> Iterator[Piece | None]:
    for token in _jieba().cut(text):
        if not token.isspace():
            yield token.strip(), "word", True


_JAPANESE_KINDS = {"名詞": "word", "接頭辞": "prefix", "接尾辞": "suffix"}


def _japanese_pieces(text: str) -> Iterator[Piece | None]:
    for chunk in _chunks(unicodedata.normalize("NFKC", text)):
        for morpheme in _sudachi().tokenize(chunk):
            pos = morpheme.part_of_speech()
            kind = _JAPANESE_KINDS.get(pos[0]) if pos[1] != "数詞" else None
            surface = morpheme.surface()
            if kind == "word" and len(surface) == 1:
                kind = "suffix"
            yield (surface, kind, True) if kind else None
        yield None


_KOREAN_KINDS = {"NNG": "word", "NNP": "word", "SL": "word", "XPN": "prefix", "XSN": "suffix"}


def _korean_pieces(text: str) -> Iterator[Piece | None]:
    for chunk in _chunks(text):
        end = -1
        for token in _kiwi().tokenize(chunk):
            kind = _KOREAN_KINDS.get(token.tag)
            if kind == "word" and token.tag != "SL" and token.len == 1:
                kind = "suffix"
            yield (token.form, kind, token.start == end) if kind else None
            end = token.start + token.len
        yield None


@lru_cache(maxsize=1)
def _thai_stop_words() -> frozenset[str]:
    from pythainlp.corpus import thai_stopwords

    return frozenset(thai_stopwords())


def _thai_pieces(text: str) -> Iterator[Piece | None]:
    from pythainlp.tokenize import word_tokenize

    for token in word_tokenize(text, engine="newmm"):
        if not token.isspace():
            yield None if token in _thai_stop_words() else (token.strip(), "word", True)


_SEGMENTERS: dict[str, Callable[[str], Iterator[Piece | None]]] = {
    "zh": _chinese_pieces,
    "ja": _japanese_pieces,
    "ko": _korean_pieces,
    "th": _thai_pieces,
}


def _code(lang: str | None) -> str | None:
    """``"zh-CN"`` -> ``"zh"``."""
    return lang.lower().replace("_", "-").split("-")[0] if lang else None


def _reader(text: str, lang: str | None) -> str:
    """The language whose segmenter reads ``text`` written in ``lang`` (detected when ``None``)."""
    lang = _code(lang) or detect_language(text) or "en"
    if lang not in _SEGMENTERS and has_han(text):
        return "ja" if _KANA.search(text) else "zh"
    return lang


@lru_cache(maxsize=64)
def _stop_words(langs: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """Stop words of ``langs`` and English, and a pattern of the multi-word ones."""
    words = STOP_WORDS["en"].union(*(STOP_WORDS.get(lang, frozenset()) for lang in langs))
    phrases = sorted((w for w in words if " " in w), key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, phrases)) + r")\b", re.IGNORECASE) if phrases else None
    return words, pattern


def _is_content(word: str, stop: frozenset[str], min_letters: int = 3) -> bool:
    """A word worth keeping: not a stop word, not a number, long enough for its script."""
    if word.lower() in stop or word.isdigit():
        return False
    if _CJK.search(word):  # two characters or more, not all hiragana (こと, もの), no symbols
        letters_only = all(c.isalnum() or c in "ー-" for c in word)
        return len(word) >= 2 and letters_only and _HIRAGANA_WORD.fullmatch(word) is None
    return len(word) >= min_letters and _LETTER.match(word) is not None


def _trim(word: str, stop: frozenset[str]) -> str:
    """A compound without boilerplate at either end: 识别方法 -> 识别 (segmenters keep some)."""
    for i in range(2, len(word) - 1):
        if word[i:] in stop:
            word = word[:i]
            break
    for i in range(len(word) - 2, 1, -1):
        if word[:i] in stop:
            return word[i:]
    return word


def _runs(text: str, lang: str | None) -> list[list[tuple[str, str]]]:
    """Runs of adjacent content words of ``text``: (connector before the word or "", word)."""
    reader = _reader(text, lang)
    lang = _code(lang) or reader
    stop, stop_phrases = _stop_words((reader, lang))
    connectors = _CONNECTORS.get(lang, frozenset())
    text = _HEADING.sub(" , ", unicodedata.normalize("NFC", text))
    if stop_phrases is not None:
        text = stop_phrases.sub(" , ", text)
    glued: list[list[tuple[str, str]]] = []
    run: list[tuple[str, str]] = []
    pending = ""  # a prefix, or a suffix that started a run, waiting for the word it belongs to
    link = ""  # a connector waiting for the word after it

    def close() -> None:
        nonlocal run, pending, link
        if pending:
            run.append((link, pending))
        if run:
            glued.append(run)
        run, pending, link = [], "", ""

    for piece in _SEGMENTERS.get(reader, _spaced_pieces)(text):
        if piece is not None and run and not (link or pending) and piece[0].lower() in connectors:
            link = piece[0].lower()
            continue
        if piece is None or piece[0].lower() in stop:
            close()
            continue
        surface, kind, touches = piece
        if pending and not touches:
            run.append((link, pending))
            pending = link = ""
        if kind == "suffix" and run and touches and not (pending or link):
            run[-1] = (run[-1][0], run[-1][1] + surface)
        elif kind != "word":
            pending += surface
        else:
            run.append((link, pending + surface))
            pending = link = ""
    close()
    keep_case = lang in _KEEPS_CASE
    min_letters = _MIN_LETTERS.get(lang, 3)
    runs = []
    for words in glued:
        run = []
        for connector, word in words:
            if _CJK.search(word):
                word = _trim(word, stop)
            if _is_content(word, stop, min_letters):
                run.append((connector if run else "", word if keep_case else word.lower()))
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def words(text: str, lang: str | None = None) -> list[str]:
    """Content words of ``text`` in ``lang`` (detected when ``None``), stop words and boilerplate removed.

    Chinese is segmented with jieba, Japanese with Sudachi, Korean with Kiwi and Thai with
    PyThaiNLP; Japanese and Korean keep nouns (with their prefixes and one-character suffixes)
    and foreign words. Han, kana and Hangul words need two or more characters, other words
    three or more letters (Vietnamese syllables two). Words are lower case except in languages
    that capitalise nouns (German).
    """
    if not text:
        return []
    return [word for run in _runs(text, lang) for _, word in run]


PHRASE_SEPARATOR = "\x1f"


def phrases(text: str, lang: str | None = None) -> list[str]:
    """Words plus two-word phrases of content words that stand next to each other.

    A phrase's words (and the connector between them, as in "moteur de flottabilité") are
    joined by :data:`PHRASE_SEPARATOR`; :func:`display_phrase` turns it into
    ``"underwater glider"`` (or ``"水下滑翔机"`` for Han words).
    """
    if not text:
        return []
    runs = _runs(text, lang)
    tokens = [word for run in runs for _, word in run]
    bigrams = [
        PHRASE_SEPARATOR.join((a, connector, b) if connector else (a, b))
        for run in runs
        for (_, a), (connector, b) in zip(run, run[1:])
        if a != b
    ]
    return tokens + bigrams


def display_phrase(term: str) -> str:
    """A phrase as people write it: Chinese, Japanese and Thai words joined directly, others with a space."""
    parts = term.split(PHRASE_SEPARATOR)
    out = parts[0]
    for part in parts[1:]:
        unspaced = bool(out and part and _UNSPACED.match(out[-1]) and _UNSPACED.match(part[0]))
        out += ("" if unspaced else " ") + part
    return out


def _japanese_index_terms(text: str) -> Iterator[str]:
    from sudachipy import SplitMode

    for chunk in _chunks(unicodedata.normalize("NFKC", text)):
        for morpheme in _sudachi().tokenize(chunk):
            if morpheme.part_of_speech()[0] in ("助詞", "助動詞", "補助記号", "空白"):
                continue
            yield morpheme.surface()
            parts = morpheme.split(SplitMode.A)
            if len(parts) > 1:
                yield from (part.surface() for part in parts)


def _korean_index_terms(text: str) -> Iterator[str]:
    for chunk in _chunks(text):
        for token in _kiwi().tokenize(chunk):
            if token.tag[0] not in "JE" and not (token.tag[0] == "S" and token.tag not in ("SL", "SH", "SN")):
                yield token.form


def _thai_index_terms(text: str) -> Iterator[str]:
    from pythainlp.tokenize import word_tokenize

    return (token for token in word_tokenize(text, engine="newmm") if token.strip())


_INDEX_TERMS: dict[str, Callable[[str], Iterator[str]]] = {
    "zh": lambda text: (t for t in _jieba().cut_for_search(text) if t.strip()),
    "ja": _japanese_index_terms,
    "ko": _korean_index_terms,
    "th": _thai_index_terms,
}


def index_text(text: str, lang: str | None) -> str:
    """Text as the full-text index sees it: lower case, words separated where the script has no spaces.

    ``lang`` is ``None`` for a query; a query of Han characters alone may be Chinese or
    Japanese, so it is segmented both ways.
    """
    text = normalize(text).lower()
    if lang is None and not (_UNSPACED.search(text) or _HANGUL.search(text)):
        return text  # a query in a script with spaces: nothing to segment, no need to detect
    readers = [_reader(text, lang)]
    if lang is None and readers == ["zh"]:
        readers.append("ja")
    if readers[0] not in _INDEX_TERMS:
        return text
    return " ".join(term for reader in readers for term in _INDEX_TERMS[reader](text))
