"""Every sentence the bot says on its own behalf, in one place so the wording stays plain and consistent."""

from __future__ import annotations

from pipelines.text.basics import counted

PLACEHOLDER = "Searching the handbook..."
THINKING = "Writing the answer..."
EMPTY_QUESTION = "Ask me a question after the mention, for example: _How many vacation days do I get?_"
RATE_LIMITED = (
    "You're asking faster than I can keep up ({limit} questions a minute). "
    "Please wait a moment and ask again."
)
CHANNEL_NOT_ALLOWED = (
    "I don't answer questions in this channel. "
    "Ask me in a direct message, or in a channel an admin set me up for."
)
STORE_DOWN = (
    "I can't reach the document store right now, so I can't search the handbook. "
    "Please try again in a few minutes."
)
UNEXPECTED = "Something went wrong while I was answering. It has been logged; please try again in a minute."
FEEDBACK_THANKS = "Thanks, your feedback was saved."
VOTE_UP_RECORDED = ":thumbsup: Your vote is recorded: helpful. Thanks!"
VOTE_DOWN_RECORDED = ":thumbsdown: Your vote is recorded: not helpful. Thanks!"
VOTE_UNCHANGED = "You already voted that way on this answer; your vote still counts once."
REASON_RECORDED = "Thanks, your reason was added to your :thumbsdown:."
FEEDBACK_FAILED = "Sorry, I couldn't save your feedback. It has been logged."
SHARE_FAILED = "Sorry, I couldn't share this answer; it may be too old. Please ask again."
SOURCES_FAILED = (
    "I can't reach the document store right now, so I can't list the sources. Please try again later."
)
SHARE_REFUSED = (
    "I can't share this answer here: it uses {what} that not everyone in this channel may see. "
    "It stays visible to you only."
)
SETTINGS_DOWN = (
    "I can't read my settings for this channel right now, so I'm not answering here for the moment. "
    "Please try again in a few minutes."
)
ESCALATED = "<!subteam^{group}> <@{user}> would like a person to help with this question:"
ESCALATED_ANSWER = "Needle answered:"
ESCALATE_DONE = "I asked the channel's helpers to look at this thread."
ESCALATE_ALREADY = "A person was already asked to help with this answer."
ESCALATE_UNAVAILABLE = "Nobody is set up to help in this channel any more. Please ask your question here."
ESCALATE_FAILED = "Sorry, I couldn't call a person in. It has been logged; please mention them yourself."
SOURCES_HERE = "Sources I answer from in this channel"

#: The assistant status while answering: Slack shows it as "Needle <status>" under the thread.
STATUS_SEARCHING = "is searching {sources}..."
LOADING_MESSAGES = ("Searching {sources}...", "Reading the best passages...", "Writing the answer...")
ASSISTANT_GREETING = (
    "Hi! Ask me anything about the company's documents; I answer with the sources I used. "
    "Here are a few ideas:"
)
SUGGESTIONS_TITLE = "Try asking:"


def sources_phrase(count: int | None) -> str:
    """``15 sources`` / ``1 source``; ``the handbook`` when the count is unknown."""
    return "the handbook" if count is None else counted(count, "source")


#: Small talk said to Needle (a greeting, thanks): a short reply, never a search (see ``bot.small_talk``).
SMALL_TALK_GREETING = (
    "Hi! :wave: Ask me anything about the company's documents and I'll answer with the sources I used."
)
SMALL_TALK_THANKS = "You're welcome! :slightly_smiling_face:"
