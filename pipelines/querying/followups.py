"""Follow-ups in a conversation: which later messages are questions for Needle, and what to search for them.

Two jobs, both free of any chat platform's syntax (the Slack bot decides whether a message mentions
someone else and passes that in):

- :func:`classify_followup` decides whether a message in a thread Needle answered is a question or a
  request for it ("what about part-timers?", "and in Paris", "tell me the VPN port", "那兼职员工呢？"), or
  something people say to each other ("thanks, that helps!", "ok great", "谢谢", a question to a
  colleague). English and Chinese.
- :func:`small_talk` recognises a message that only greets, thanks or acknowledges ("hi", "thanks!",
  "ok great", "你好", "谢谢"): wherever it is said to Needle, it is answered with a friendly word or not at
  all, and never searched.
- :func:`build_retrieval_query` turns a follow-up that leans on the conversation ("what about
  part-timers?") into something worth searching: with an LLM, one short call rewrites it into a standalone
  question; without one, or when that call fails, the thread's first question and the previous question
  are searched together with it (:func:`heuristic_query`). A long, self-contained question is searched
  alone.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from haystack.dataclasses import ChatMessage

from pipelines.querying.components.answer_generator import describe_llm_failure
from pipelines.querying.llm import with_timeout

logger = logging.getLogger(__name__)

#: ``questions``: answer follow-ups that are questions or requests; ``all``: every later message in the
#: thread; ``mention-only``: only messages that mention Needle.
FollowupMode = Literal["questions", "all", "mention-only"]
FollowupReason = Literal[
    "question",  # it asks something ("?", a question word, 吗/呢, 什么/怎么 ...)
    "request",  # it asks Needle to do something ("tell me ...", "please ...", 请/告诉我)
    "continuation",  # an elliptical follow-up ("and in Paris", "for contractors", 那兼职员工)
    "all",  # mode ``all``: every message is answered
    "empty",  # nothing left once emoji and punctuation are gone
    "acknowledgement",  # thanks, ok, great, got it, 谢谢, 好的 ...
    "greeting",  # hi, hello, good morning, 你好 ...
    "mentions_other",  # addressed to another person, a user group, @here or @channel
    "statement",  # says something but asks nothing ("I'm off tomorrow")
    "mention_only",  # mode ``mention-only``: follow-ups need a mention
]
#: How the retrieval query was made: the question alone, the heuristic, or the LLM's rewrite.
QueryMethod = Literal["none", "heuristic", "llm"]
#: A message that asks nothing: it greets, thanks, or acknowledges ("ok great", "got it", "bye").
SmallTalk = Literal["greeting", "thanks", "acknowledgement"]


@dataclass(frozen=True)
class FollowupDecision:
    """Whether to answer a follow-up, and why (for the log)."""

    answer: bool
    reason: FollowupReason


# --- normalising ---------------------------------------------------------------------------------------
_SHORTCODE = re.compile(r":(?![0-9]+:)[a-z0-9_+'-]+:")  # :+1:, :thumbsup:, :skin-tone-2:
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_PUNCTUATION = re.compile(r"[\W_]+")


def _normalise(text: str) -> str:
    """Lower case, full-width punctuation made ASCII (NFKC), emoji (Unicode or ``:shortcode:``) removed."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("’", "'")
    text = _SHORTCODE.sub(" ", text)
    return "".join(
        " " if unicodedata.category(char) in ("So", "Sk", "Cs", "Co") or char in "\u200d\ufe0f" else char
        for char in text
    )


def _words(text: str) -> list[str]:
    """English-like words of normalised text; CJK runs are not words here."""
    return _WORD.findall(_CJK_RUN.sub(" ", text))


# --- vocabulary ----------------------------------------------------------------------------------------
#: Whole messages made of these (and the fillers below) are acknowledgements, reactions or pleasantries.
_ACK_PHRASES = sorted(
    {
        "thanks",
        "thank you",
        "thank u",
        "thx",
        "thnx",
        "tnx",
        "ty",
        "tysm",
        "tyvm",
        "cheers",
        "ta",
        "appreciate it",
        "appreciated",
        "much appreciated",
        "many thanks",
        "ok",
        "okay",
        "okey",
        "oki",
        "okie",
        "k",
        "kk",
        "great",
        "cool",
        "nice",
        "perfect",
        "awesome",
        "excellent",
        "amazing",
        "brilliant",
        "wonderful",
        "lovely",
        "fantastic",
        "super",
        "sweet",
        "neat",
        "good",
        "fine",
        "got it",
        "gotcha",
        "makes sense",
        "that helps",
        "this helps",
        "that helped",
        "this helped",
        "it helps",
        "it helped",
        "helps",
        "helped",
        "helpful",
        "useful",
        "clear",
        "noted",
        "understood",
        "i see",
        "i understand",
        "will do",
        "sounds good",
        "good to know",
        "all good",
        "yes",
        "yeah",
        "yep",
        "yup",
        "no",
        "nope",
        "nah",
        "sure",
        "right",
        "alright",
        "all right",
        "lol",
        "haha",
        "hah",
        "hehe",
        "wow",
        "exactly",
        "true",
        "fair enough",
        "fair",
        "roger",
        "np",
        "no problem",
        "no worries",
        "legend",
        "you're the best",
        "youre the best",
        "works",
        "it works",
        "that works",
        "worked",
        "solved",
        "done",
        "bye",
        "see you",
        "see ya",
        "cya",
        "later",
        "have a nice day",
        "have a good day",
        "have a great day",
        "have a nice weekend",
        "have a good weekend",
        "have a great weekend",
        "oh",
        "ah",
        "aha",
        "ohh",
        "ahh",
        "hmm",
        "hm",
        "interesting",
        "really",
        "seriously",
        "nice one",
        "ack",
        "thumbs up",
        "love it",
        "love that",
        "on it",
    },
    key=len,
    reverse=True,
)
_ACK_PATTERN = re.compile(r"\b(?:" + "|".join(re.escape(phrase) for phrase in _ACK_PHRASES) + r")\b")
#: Words that carry no question of their own around an acknowledgement ("thanks SO much for that").
_FILLERS = frozenset(
    {
        "a",
        "an",
        "the",
        "so",
        "very",
        "much",
        "really",
        "lot",
        "lots",
        "again",
        "you",
        "u",
        "ya",
        "for",
        "that",
        "this",
        "it",
        "its",
        "it's",
        "that's",
        "thats",
        "me",
        "too",
        "as",
        "well",
        "just",
        "now",
        "all",
        "of",
        "and",
        "guys",
        "team",
        "man",
        "mate",
        "needle",
        "bot",
        "help",
        "info",
        "information",
        "answer",
        "reply",
        "quick",
        "quickly",
        "indeed",
        "kind",
        "totally",
        "absolutely",
        "definitely",
        "please",
    }
)
_CJK_ACKS = sorted(
    {
        "非常感谢",
        "谢谢你",
        "谢谢您",
        "谢谢",
        "多谢",
        "谢了",
        "感谢",
        "辛苦了",
        "好的",
        "好吧",
        "好滴",
        "好嘞",
        "好哒",
        "太好了",
        "很好",
        "不错",
        "太棒了",
        "棒",
        "明白了",
        "明白",
        "知道了",
        "懂了",
        "了解了",
        "了解",
        "收到",
        "没问题",
        "有帮助",
        "很有帮助",
        "这很有帮助",
        "这个有用",
        "有用",
        "原来如此",
        "是的",
        "对的",
        "没错",
        "哈哈",
        "嗯嗯",
        "嗯",
        "哦",
        "噢",
        "喔",
        "啊",
        "好",
        "行",
        "对",
        "可以",
        "了",
        "啦",
        "呀",
        "哈",
        "你",
        "您",
        "这",
        "很",
        "非常",
        "真",
        "的",
    },
    key=len,
    reverse=True,
)
_CJK_ACK_PATTERN = re.compile("|".join(re.escape(phrase) for phrase in _CJK_ACKS))
#: Thanks among the acknowledgements: answered with "you're welcome" rather than nothing.
_THANKS_PATTERN = re.compile(
    r"\b(?:thanks|thank you|thank u|thx|thnx|tnx|ty|tysm|tyvm|cheers|ta|appreciate it|appreciated|"
    r"much appreciated|many thanks)\b"
)
_CJK_THANKS_PATTERN = re.compile("谢谢|多谢|谢了|感谢|辛苦了")
#: Greetings (and the pleasantries that come with them), which a message may mix with acknowledgements.
_GREETING_PHRASES = sorted(
    {
        "hi",
        "hello",
        "hey",
        "hiya",
        "heya",
        "howdy",
        "yo",
        "hallo",
        "greetings",
        "hi there",
        "hey there",
        "hello there",
        "good morning",
        "good afternoon",
        "good evening",
        "morning",
        "evening",
        "how are you",
        "how are you doing",
        "how's it going",
        "hows it going",
        "how is it going",
        "what's up",
        "whats up",
        "sup",
        "how do you do",
        "nice to meet you",
        "long time no see",
    },
    key=len,
    reverse=True,
)
_GREETING_PATTERN = re.compile(
    r"\b(?:" + "|".join(re.escape(phrase) for phrase in _GREETING_PHRASES) + r")\b"
)
_CJK_GREETINGS = sorted(
    {
        "你好",
        "您好",
        "大家好",
        "嗨",
        "哈喽",
        "哈罗",
        "早上好",
        "上午好",
        "下午好",
        "晚上好",
        "早安",
        "晚安",
        "早",
    },
    key=len,
    reverse=True,
)
_CJK_GREETING_PATTERN = re.compile("|".join(re.escape(phrase) for phrase in _CJK_GREETINGS))

_QUESTION_WORDS = frozenset(
    {
        "what",
        "what's",
        "whats",
        "how",
        "how's",
        "when",
        "when's",
        "where",
        "where's",
        "who",
        "who's",
        "whom",
        "whose",
        "which",
        "why",
        "is",
        "are",
        "am",
        "isn't",
        "aren't",
        "do",
        "does",
        "did",
        "don't",
        "doesn't",
        "didn't",
        "can",
        "could",
        "can't",
        "couldn't",
        "should",
        "shouldn't",
        "would",
        "wouldn't",
        "will",
        "won't",
        "shall",
        "may",
        "might",
        "has",
        "hasn't",
    }
)
#: A follow-up that leans on the question before it: "and in Paris", "for contractors", "what about ...".
_CONTINUATIONS = frozenset(
    {
        "and",
        "or",
        "but",
        "also",
        "plus",
        "for",
        "in",
        "at",
        "on",
        "with",
        "without",
        "if",
        "regarding",
        "re",
        "even",
        "except",
        "besides",
        "vs",
        "versus",
        "compared",
    }
)
_CONTINUATION_PHRASES = ("what about", "how about", "what if", "same for", "same with", "same goes for")
_REQUEST_VERBS = frozenset(
    {
        "tell",
        "show",
        "explain",
        "list",
        "give",
        "find",
        "send",
        "describe",
        "summarize",
        "summarise",
        "define",
        "clarify",
        "compare",
        "check",
        "share",
        "point",
        "link",
        "remind",
        "help",
        "look",
        "search",
        "walk",
        "get",
        "provide",
        "elaborate",
        "outline",
        "translate",
        "recommend",
        "suggest",
        "confirm",
    }
)
_REQUEST_PHRASES = re.compile(
    r"\b(?:please|pls|plz|i need|i'd like|i would like|i want to know|i wanna know|looking for|"
    r"i wonder|wondering|not sure|no idea|any idea|can you|could you|would you|do you know|"
    r"need to know|trying to|curious)\b"
)
#: Leading words to look past before judging the start ("ok, what about ...", "thanks! and in Paris").
_LEADING = re.compile(
    r"^(?:(?:ok(?:ay)?|k|thanks|thank you|thx|great|cool|nice|perfect|awesome|got it|so|hmm+|oh|ah|"
    r"alright|right|sure|yes|yeah|btw|by the way|sorry|hi|hey|hello|one more thing|another question)"
    r"\b[\s,.!:;-]*)+"
)
_CJK_QUESTION_WORDS = re.compile(
    r"什么|甚么|怎么|怎样|如何|哪|几|多少|多久|多长|为什么|为何|是否|能否|可否|是不是|有没有|能不能|"
    r"可不可以|会不会|要不要|需不需要|谁|吗|呢"
)
_CJK_CONTINUATIONS = (
    "那么",
    "那",
    "还有",
    "另外",
    "此外",
    "如果",
    "要是",
    "假如",
    "对于",
    "关于",
    "至于",
    "以及",
    "或者",
    "而且",
)
_CJK_REQUESTS = re.compile(
    r"^请|请问|告诉|帮我|帮忙|给我|说明|解释|列出|介绍|查一下|查查|发我|想知道|想问|麻烦"
)
_CJK_LEADING = re.compile(r"^(?:好的|好吧|好|谢谢|多谢|感谢|嗯+|哦|噢|明白了|知道了|收到|了解|行|对)+")


def small_talk(text: str) -> SmallTalk | None:
    """What a message is when it only greets, thanks or acknowledges; ``None`` when it says anything
    more ("hi, how many vacation days do I get?" is a question).

    ``thanks`` wins over a greeting in the same message ("hey, thanks!"), a greeting over a plain
    acknowledgement ("ok, hello"). English and Chinese; emoji and punctuation are ignored.

    :param text: the message without mentions.
    """
    normalised = _normalise(text)
    english = _CJK_RUN.sub(" ", normalised)
    chinese = "".join(_CJK_RUN.findall(normalised))
    greets = bool(_GREETING_PATTERN.search(english) or (chinese and _CJK_GREETING_PATTERN.search(chinese)))
    acknowledges = bool(_ACK_PATTERN.search(english) or (chinese and _CJK_ACK_PATTERN.search(chinese)))
    if not (greets or acknowledges):
        return None
    rest = _ACK_PATTERN.sub(" ", _GREETING_PATTERN.sub(" ", english))
    if [word for word in _words(rest) if word not in _FILLERS]:
        return None
    if _CJK_ACK_PATTERN.sub("", _CJK_GREETING_PATTERN.sub("", chinese)):
        return None
    if _THANKS_PATTERN.search(english) or _CJK_THANKS_PATTERN.search(chinese):
        return "thanks"
    return "greeting" if greets else "acknowledgement"


def _without_leading_pleasantries(text: str) -> str:
    return _LEADING.sub("", text.strip(" \t\n,.!:;-")).strip()


def classify_followup(
    text: str, *, mentions_other: bool = False, mode: FollowupMode = "questions"
) -> FollowupDecision:
    """Decide whether a later message in a thread Needle answered is meant for Needle.

    :param text: the message without mentions (as typed otherwise; emoji as Unicode or ``:shortcode:``).
    :param mentions_other: the message mentions another person, a user group, @here or @channel (and not
        Needle: a message that mentions Needle is a direct question and never comes here).
    :param mode: ``questions`` answers questions and requests; ``all`` every message but small talk
        (:func:`small_talk`); ``mention-only`` none.
    """
    if mode == "mention-only":
        return FollowupDecision(False, "mention_only")
    chatter = small_talk(text)
    if mode == "all":  # every message but small talk, which is never searched
        if chatter is not None:
            return FollowupDecision(False, "greeting" if chatter == "greeting" else "acknowledgement")
        return FollowupDecision(True, "all")
    if mentions_other:
        return FollowupDecision(False, "mentions_other")
    normalised = _normalise(text)
    if not _words(normalised) and not _CJK.search(normalised):
        return FollowupDecision(False, "empty")
    if chatter is not None:
        return FollowupDecision(False, "greeting" if chatter == "greeting" else "acknowledgement")
    if "?" in normalised:
        return FollowupDecision(True, "question")
    start = _without_leading_pleasantries(normalised)
    words = _words(start)
    first = words[0] if words and start[:1].isascii() else ""
    if first in _QUESTION_WORDS:
        return FollowupDecision(True, "question")
    if first in _CONTINUATIONS or start.startswith(_CONTINUATION_PHRASES):
        return FollowupDecision(True, "continuation")
    if first in _REQUEST_VERBS or _REQUEST_PHRASES.search(normalised):
        return FollowupDecision(True, "request")
    chinese = "".join(_CJK_RUN.findall(normalised))
    if chinese:
        if _CJK_QUESTION_WORDS.search(chinese):
            return FollowupDecision(True, "question")
        if _CJK_REQUESTS.search(chinese):
            return FollowupDecision(True, "request")
        if _CJK_LEADING.sub("", chinese).startswith(_CJK_CONTINUATIONS):
            return FollowupDecision(True, "continuation")
    return FollowupDecision(False, "statement")


def is_followup_question(text: str, mentions_other: bool = False) -> bool:
    """``True`` if a thread follow-up is a question or request for Needle (mode ``questions``)."""
    return classify_followup(text, mentions_other=mentions_other).answer


# --- retrieval query -----------------------------------------------------------------------------------
#: Follow-ups of at most this many words (CJK: characters) are taken to lean on the conversation.
SHORT_FOLLOWUP_WORDS = 6
SHORT_FOLLOWUP_CJK_CHARS = 12
_CONTEXT_WORDS = frozenset(
    {
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "those",
        "these",
        "this",
        "that",
        "there",
        "ones",
        "one",
        "same",
        "else",
        "too",
        "also",
        "either",
        "instead",
        "yours",
        "mine",
        "ours",
        "his",
        "hers",
    }
)
_CJK_CONTEXT = re.compile(r"它|他们|她们|它们|这些|那些|这个|那个|这样|同样|也|呢$")


class RetrievalQuery(str):
    """The text to search with (this object *is* that string) and how it was made, in ``method``.

    A ``str`` so that code which passes the query on as text keeps working unchanged.
    """

    method: QueryMethod

    def __new__(cls, text: str, method: QueryMethod = "none") -> RetrievalQuery:
        query = super().__new__(cls, text)
        query.method = method
        return query


def leans_on_context(question: str) -> bool:
    """A short follow-up or one that points back ("by when do I have to use them?", "and in Paris")."""
    normalised = _normalise(question)
    words = _words(normalised)
    chinese = "".join(_CJK_RUN.findall(normalised))
    if chinese:
        if len(chinese) <= SHORT_FOLLOWUP_CJK_CHARS or _CJK_LEADING.sub("", chinese).startswith(
            _CJK_CONTINUATIONS
        ):
            return True
        if _CJK_CONTEXT.search(chinese):
            return True
    if not words:
        return bool(chinese) and len(chinese) <= SHORT_FOLLOWUP_CJK_CHARS
    start = _words(_without_leading_pleasantries(normalised))
    if start and (start[0] in _CONTINUATIONS or " ".join(start).startswith(_CONTINUATION_PHRASES)):
        return True
    if any(word in _CONTEXT_WORDS for word in words):
        return True
    return not chinese and len(words) <= SHORT_FOLLOWUP_WORDS


def _user_questions(history: Sequence[dict[str, str]]) -> list[str]:
    """The user turns that asked something (greetings, thanks and reactions in between are skipped)."""
    questions = []
    for turn in history:
        text = " ".join((turn.get("text") or "").split())
        if (
            turn.get("role") == "user"
            and text
            and classify_followup(text).reason
            not in (
                "acknowledgement",
                "greeting",
                "empty",
            )
        ):
            questions.append(text)
    return questions


def _dedupe(parts: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for part in parts:
        key = " ".join(_PUNCTUATION.sub(" ", _normalise(part)).split())
        if key and key not in seen:
            seen.add(key)
            kept.append(part)
    return kept


def heuristic_query(question: str, history: Sequence[dict[str, str]]) -> str:
    """The follow-up searched with the thread's topic: its first question, the previous one and itself.

    Repeats are dropped; a question with no earlier question, or one that stands on its own, is returned
    unchanged.
    """
    earlier = _user_questions(history)
    if not earlier or not leans_on_context(question):
        return question
    return " ".join(_dedupe([earlier[0], earlier[-1], question]))


# --- LLM rewrite ---------------------------------------------------------------------------------------
REWRITE_SYSTEM_PROMPT = (
    "You rewrite the last message of a conversation with a company handbook assistant into one standalone "
    "search question that can be understood without the conversation. Keep its meaning and its language "
    "(answer in Chinese if it is Chinese). Do not answer it. Reply with the question only, on one line."
)
#: A rewrite longer than this is not a question but an answer or a ramble: the heuristic is used instead.
MAX_REWRITE_CHARS = 300
REWRITE_MAX_TOKENS = 96
_ANSWER_PREVIEW_CHARS = 300
_LABEL = re.compile(
    r"^(?:standalone (?:search )?question|rewritten question|question|rewrite)\s*[:：]\s*", re.IGNORECASE
)


def rewrite_messages(question: str, history: Sequence[dict[str, str]]) -> list[ChatMessage]:
    """The prompt of the rewrite call: the conversation so far (answers shortened) and the follow-up."""
    lines = []
    for turn in history:
        text = " ".join((turn.get("text") or "").split())
        if not text:
            continue
        if turn.get("role") == "assistant":
            if len(text) > _ANSWER_PREVIEW_CHARS:
                text = text[:_ANSWER_PREVIEW_CHARS].rsplit(" ", 1)[0] + " ..."
            lines.append(f"Assistant: {text}")
        else:
            lines.append(f"User: {text}")
    conversation = "\n".join(lines)
    return [
        ChatMessage.from_system(REWRITE_SYSTEM_PROMPT),
        ChatMessage.from_user(
            f"Conversation:\n{conversation}\n\nLast message: {question}\n\nStandalone question:"
        ),
    ]


def clean_rewrite(reply: str) -> str | None:
    """The rewritten question in the model's reply; ``None`` if it is empty, several lines or too long."""
    lines = [line.strip() for line in (reply or "").strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    text = _LABEL.sub("", lines[0]).strip().strip("\"'“”「」").strip()
    if not text or len(text) > MAX_REWRITE_CHARS:
        return None
    return text


class FollowupRewriter:
    """Rewrites a follow-up into a standalone question with one short call to the chat generator.

    The call gets its own timeout (the answer's is far longer): a twin of the generator with the same
    endpoint, key and generation settings is made once, with ``timeout_seconds``
    (:func:`pipelines.querying.llm.with_timeout`).

    :param generator: a chat generator from :mod:`pipelines.querying.llm` (or anything with its
    ``run(messages=...)``).
    :param timeout_seconds: the longest the rewrite may take before the heuristic is used.
    """

    def __init__(self, generator: Any, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.generator = with_timeout(generator, timeout_seconds)

    def rewrite(self, question: str, history: Sequence[dict[str, str]]) -> str | None:
        """The standalone question, or ``None`` (logged) when the model fails or gives nothing usable."""
        try:
            result = self.generator.run(
                messages=rewrite_messages(question, history),
                generation_kwargs={"max_tokens": REWRITE_MAX_TOKENS},
            )
        except Exception as error:  # any failure of the remote model: the heuristic query is used
            logger.warning(
                "follow-up rewrite failed: %s; searching with the heuristic query",
                describe_llm_failure(error, self.timeout_seconds),
                exc_info=error,
            )
            return None
        replies = result.get("replies") or []
        rewritten = clean_rewrite((replies[0].text or "") if replies else "")
        if rewritten is None:
            logger.warning("follow-up rewrite was empty or unusable; searching with the heuristic query")
        return rewritten


_rewriters: weakref.WeakKeyDictionary[Any, FollowupRewriter] = weakref.WeakKeyDictionary()
_rewriters_lock = threading.Lock()


def rewriter_for(generator: Any, timeout_seconds: float) -> FollowupRewriter:
    """The rewriter for ``generator``, made once per generator and timeout (its client is reused)."""
    with _rewriters_lock:
        rewriter = _rewriters.get(generator)
        if rewriter is None or rewriter.timeout_seconds != timeout_seconds:
            rewriter = _rewriters[generator] = FollowupRewriter(generator, timeout_seconds)
        return rewriter


def build_retrieval_query(
    question: str,
    history: Sequence[dict[str, str]],
    *,
    generator: Any | None = None,
    rewrite_timeout_seconds: float = 5.0,
) -> RetrievalQuery:
    """What to search for ``question`` asked after ``history`` (``{"role": "user"|"assistant", "text"}``).

    A first question, or a long one that stands on its own, is searched as it is (``method="none"``). A
    follow-up that leans on the conversation is rewritten by the LLM when ``generator`` is given
    (``"llm"``), else, or when the rewrite fails, searched with the thread's first and previous questions
    (``"heuristic"``).
    """
    if not _user_questions(history) or not leans_on_context(question):
        return RetrievalQuery(question, "none")
    if generator is not None:
        rewritten = rewriter_for(generator, rewrite_timeout_seconds).rewrite(question, history)
        if rewritten:
            return RetrievalQuery(rewritten, "llm")
    return RetrievalQuery(heuristic_query(question, history), "heuristic")
