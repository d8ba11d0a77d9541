"""Language-neutral text helpers: sentence splitting, word counting and terms for lexical scoring.

nltk's sentence splitter needs a data download at run time, which fails on machines without internet, and
it knows nothing of Chinese. These rules split on Western sentence punctuation followed by a space and on
the CJK full stops ``。！？`` (which are not followed by spaces), which is what both the chunker and the
extractive answerer need.
"""

from __future__ import annotations

import re
import unicodedata

_CJK_RANGES = (
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\uac00-\ud7af"  # Hangul syllables
)
CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and whitespace, right after a
# CJK terminator, or at a line break (the chunker has already re-joined lines that were wrapped mid-sentence,
# so the breaks left are headings, list items and paragraphs). Common abbreviations are protected below.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"'”’)\]]*\s+(?=[^\s])"
    r"|(?<=[。！？；])[”’」』）]*"
    r"|\s*\n\s*"
)
_ABBREVIATIONS = re.compile(
    r"\b(?:e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|Prof|No|approx|incl|St|Inc|Ltd|Fig|p)\.$", re.I
)

_WORD = re.compile(rf"[^\W{_CJK_RANGES}]+|[{_CJK_RANGES}]", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping each sentence's own text (stripped)."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()]
        if _ABBREVIATIONS.search(candidate.rstrip()):
            continue
        piece = text[start : match.end()].strip()
        if piece:
            pieces.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def count_cjk(text: str) -> int:
    return len(CJK_CHAR.findall(text))


def is_mostly_cjk(text: str) -> bool:
    """True when at least a third of the letters in ``text`` are CJK characters."""
    letters = sum(1 for char in text if char.isalpha())
    return letters > 0 and count_cjk(text) * 3 >= letters


def query_language(text: str) -> str:
    """``zh`` for text written mostly in CJK characters, else ``en``: enough to tell whether an
    English-only embedder can read a question."""
    return "zh" if is_mostly_cjk(text) else "en"


def word_count(text: str) -> float:
    """Words for sizing chunks: Latin words count 1, CJK characters 0.6 (about 1.7 characters a word)."""
    cjk = count_cjk(text)
    latin = len(_WORD.findall(text)) - cjk
    return latin + 0.6 * cjk


_ENGLISH_STOPWORDS = """
a an and are as at be by can do does for from has have how i if in is it its me my of on or our should
so that the their them there they this to was we what when where which who why will with you your yours
am been being did done than then these those into about over under up down out just also any all each
more most other some such no not only own same too very many much
"""
_CHINESE_STOPWORDS = """
的 了 是 在 我 有 和 就 不 人 都 一 上 也 很 到 说 要 去 你 会 着
没有 看 好 自己 这 吗 呢 吧 啊 什么 多少 怎么 如何
"""
_STOPWORDS = frozenset(_ENGLISH_STOPWORDS.split()) | frozenset(_CHINESE_STOPWORDS.split())


def terms(text: str) -> list[str]:
    """Lower-cased content terms: words without stop words, plus CJK character bigrams.

    CJK text has no spaces, so single characters are too ambiguous and whole runs too specific; bigrams are
    the usual compromise for lexical matching in Chinese.
    """
    normalized = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for run in re.findall(rf"[{_CJK_RANGES}]+|[^\W{_CJK_RANGES}]+", normalized):
        if CJK_CHAR.match(run):
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in _STOPWORDS and (len(run) > 1 or run.isdigit()):
            out.append(run)
    return [term for term in out if term not in _STOPWORDS]
