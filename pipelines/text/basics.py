"""Language-neutral text helpers: sentence splitting, word counting, headings and list items (and the
English counts both faces show, "1 source").

nltk's sentence splitter needs a data download at run time, which fails on machines without internet, and
it knows nothing of Chinese. These rules split on Western sentence punctuation followed by a space and on
the CJK full stops ``。！？`` (which are not followed by spaces), which is what both the chunker and the
extractive answerer need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def counted(number: int, noun: str, mark: str = "") -> str:
    """The count (inside ``mark``: "*" or "**" for bold) and the English noun in its number: "1 source",
    "15 sources". Both faces word their counts with it."""
    return f"{mark}{number}{mark} {noun}{'' if number == 1 else 's'}"


# Headings and list items ---------------------------------------------------------------------------------
#
# Converted text keeps headings on lines of their own. They give a chunk its context (retrieval and the LLM
# should see "2.3 Sick pay" above the paragraph), but they are labels, not answers: an extract that quotes
# "3.3 Eligibility and notice" answers nothing. Conversion loses the styling that marked them (PDF font
# sizes, DOCX heading styles, Markdown "#" after rendering), so these rules recognise them by shape.

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S")
_BULLET = re.compile(r"^(?:[-*+–—]\s+|[•·▪◦‣●○■□]\s*)\S")
_ORDERED = re.compile(
    r"^(?:(?P<dot>\d{1,3}|[A-Za-z]|[ivxlcIVXLC]{1,5})\.\s+"  # "1. ", "a. ", "IV. "
    r"|\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})\)\s*"  # "1) ", "(a) ", "(iv) "
    r"|\d{1,3}、|[（(]\d{1,3}[）)]|[①-⑳])"  # Chinese "1、", "（1）", "①"
    r"(?P<rest>\S.*)$"
)
#: Steps of numbered procedures start with a verb ("1. Open AppShelf"); numbered section titles are noun
#: phrases ("1. Purpose and scope"). Both look alike once the styling is gone, so the first word decides.
_INSTRUCTION_VERB_LIST = """
    add allow approve ask attach avoid book bring call cancel change check choose click close complete
    confirm connect contact copy create delete describe do don't download email enable enrol enroll enter
    fill find follow forward get give go install keep leave let list log make mark never note open pay
    please plug press print put read record register reject remember remove report request reset restart
    return review run save scan select send set share sign start stop submit switch take tap tell try
    turn type update upload use visit wait wear write
"""
_INSTRUCTION_VERBS = frozenset(_INSTRUCTION_VERB_LIST.split())
_TERMINAL = re.compile(r"[.!;:,。！；：，、…]['\"”’)\]]*$")
_INTERNAL_SENTENCE_END = re.compile(r"[.!?]['\"”’)\]]*\s+[A-Z0-9]|[。！？；]\S")
_LABEL_VALUE = re.compile(r"\S:\s+\S|：\S")
#: English headings end in a noun or a verb, not in an article, conjunction or preposition that would
#: leave a phrase unfinished: "... such as the" is a line wrapped mid-sentence.
_OPEN_ENDING = re.compile(
    r"\b(?:a|an|the|and|or|nor|but|of|for|with|by|from|per|than|as|your|our|their|its|is|are|was|that)$",
    re.I,
)
_NUMBERED_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})+\.?\s+\S"  # "2.3 Sick pay", "1.2.1. Scope"
    r"|\d{1,2}\.\s+\S"  # "1. Purpose and scope" (is_list_item has ruled out steps)
    r"|\d{1,2}\s+[A-Z][a-z]"  # "4 Other leave"
    r"|(?:§|Section|Chapter|Article|Part|Appendix|Annex)\s*[\dA-Z])"
)
_SECTION_NUMBER = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[A-Za-z]\.|[IVXivx]{1,5}\.)\s+")
_LETTER_NUMBER = re.compile(r"^(?:[A-Za-z]|[IVXivx]{1,5})\.\s+\S")
_CJK_HEADING = re.compile(r"^(?:[一二三四五六七八九十百]+、|第[一二三四五六七八九十百\d]+[章节条部分篇])")
#: A heading is a short label: at most this many words, or CJK characters for Chinese headings.
MAX_HEADING_WORDS = 12
MAX_CJK_HEADING_CHARS = 30


def is_list_item(line: str) -> bool:
    """True for a bulleted or numbered list item: "- Laptop", "• Monitor", "1. Do X", "(a) Sign", "1、登录".

    "1. Purpose and scope" is a numbered section heading, not a list item: a line numbered "N." is a list
    item only when the text after the number does not read as a title (see :func:`is_heading`): when it is
    a sentence, a step that starts with an instruction verb ("1. Do X", "2. Sign in"), a label with a
    value, lower case, or longer than a heading.
    """
    text = " ".join(line.split())
    if _BULLET.match(text):
        return True
    match = _ORDERED.match(text)
    if match is None:
        return False
    if match.group("dot") is None:
        return True  # "1)", "(a)", "1、": list markers, not heading numbers
    rest = match.group("rest")
    return rest.split()[0].casefold().strip("\"'“‘(") in _INSTRUCTION_VERBS or not _reads_as_title(rest)


def is_heading(line: str) -> bool:
    """True when ``line`` is a heading or label rather than a statement, so it is context, not an answer.

    A heading is short (at most ``MAX_HEADING_WORDS`` words, or ``MAX_CJK_HEADING_CHARS`` characters of
    Chinese), has no terminal sentence punctuation, no sentence inside it and no unfinished phrase ("...
    such as the"), and starts like a title: a Markdown "#", a section number ("2.3 Sick pay", "1. Purpose
    and scope"), a capital letter ("Location Maximum per night"), or a Chinese heading ("三、年假", "第二章
    总则"). A short question on its own line ("How many days can I work remotely?") is a FAQ heading: it
    asks, it never answers. A line that pairs a label with a value ("Owner: Finance Director", "Last
    reviewed: September 2026", "Thursday: Acme 101") states a fact and is no heading, and list items
    (:func:`is_list_item`) never are.
    """
    text = " ".join(line.split())
    if not text:
        return False
    if _MARKDOWN_HEADING.match(text):
        return True
    if is_list_item(text) or text.startswith(("|", ">")):
        return False
    title = _SECTION_NUMBER.sub("", text, count=1)  # "1. Purpose" is no sentence end
    if title != text and not (_NUMBERED_HEADING.match(text) or _LETTER_NUMBER.match(text)):
        return False  # "45 EUR" is a figure, not section 45
    if title == text and title[:1].isdigit():
        return False  # "2027", "240 EUR"
    return _reads_as_title(title) or bool(_CJK_HEADING.match(text) and not _too_long_for_heading(text))


def _reads_as_title(text: str) -> bool:
    """Short, unpunctuated, no sentence or label-value pair inside; starts with a capital, digit or CJK."""
    if not text or _too_long_for_heading(text):
        return False
    if _TERMINAL.search(text) or _INTERNAL_SENTENCE_END.search(text) or _LABEL_VALUE.search(text):
        return False
    if _OPEN_ENDING.search(text.rstrip("?？")):
        return False
    first = text.lstrip("\"'“‘(《【")[:1]
    return bool(first) and (first.isupper() or first.isdigit() or bool(CJK_CHAR.match(first)))


def _too_long_for_heading(text: str) -> bool:
    if is_mostly_cjk(text):
        return len(text) > MAX_CJK_HEADING_CHARS
    return len(text.split()) > MAX_HEADING_WORDS or len(text) > 100


#: A sentence that starts by pointing back ("It expires after 24 hours.") is about the one before it.
_BACK_REFERENCE = re.compile(r"^(?:(?:it|this|that|these|those|they|such)\b|[它这该此])", re.IGNORECASE)
_ASKS = re.compile(r"[?？]['\"”’)\]]*$")
_CLAUSE = re.compile(r"[,;，；、]")
_LEAD_IN_END = re.compile(r"[:：]['\"”’)\]]*$")


@dataclass(frozen=True)
class QuotableSentence:
    """A sentence that may be quoted, and the text it depends on to be understood.

    ``context`` is what a reader sees around the sentence but the sentence does not repeat: the FAQ
    question it answers (a heading that asks) and the sentence before it when it points back ("It expires
    after 24 hours."). ``lead_in`` is the line a list item (or the one line after it) completes: "Taxis
    are reimbursed only in these cases:" above "- when travelling between 22:00 and 06:00;", which a
    reader takes as one sentence. A section title ("1. Our values") is neither: it is the topic of every
    sentence under it and would not tell them apart. Context and lead-in help find the sentence; they are
    never quoted.
    """

    text: str
    context: str = ""
    lead_in: str = ""


def _is_bare_lead_in(sentence: str) -> bool:
    """A short colon-ended sentence without a clause of its own ("There are two alarm sounds:"), unlike
    "In May 2012 the board approved one more class, of these four kinds:", which states a fact first."""
    return not _CLAUSE.search(sentence) and word_count(sentence) <= MAX_HEADING_WORDS


def contextual_sentences(text: str) -> list[QuotableSentence]:
    """The sentences of a chunk that may be quoted as an answer (not its headings, labels and list
    lead-ins), each with its context and lead-in.

    Chunks keep one line per heading, paragraph, list item and table row, so headings are told apart line
    by line (a sentence splitter would cut "1. Purpose and scope" into "1." and a title). A list item or a
    table row is one quotable line of its own.
    """
    sentences: list[QuotableSentence] = []
    heading = lead_in = ""
    follows_lead_in = False
    for line in text.splitlines():
        if not line.strip():
            continue
        if is_heading(line):
            heading = line.strip() if _ASKS.search(line.strip()) else ""
            lead_in, follows_lead_in = "", False
            continue
        item = is_list_item(line)
        # A lead-in introduces the list below it, or the one line that follows ("The address is:").
        introduced = lead_in if item or follows_lead_in else ""
        follows_lead_in = False
        if not item:
            lead_in = ""  # a paragraph ends the list its lead-in introduced
        pieces = split_sentences(line)
        if not item and pieces and _LEAD_IN_END.search(pieces[-1]):
            lead_in, follows_lead_in = pieces[-1], True
            if _is_bare_lead_in(lead_in):
                pieces.pop()  # "There are two alarm sounds:" says what follows; alone it answers nothing
        previous = ""
        for sentence in pieces:
            context = [heading]
            if previous and _BACK_REFERENCE.match(sentence):
                context.append(previous)
            joined = " ".join(part for part in context if part)
            sentences.append(QuotableSentence(sentence, joined, introduced))
            previous = sentence
    return sentences


def quotable_sentences(text: str) -> list[str]:
    """The sentences of a chunk that may be quoted as an answer: not its headings and labels."""
    return [sentence.text for sentence in contextual_sentences(text)]
