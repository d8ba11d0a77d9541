"""Every sentence the bot says on its own behalf, in one place so the wording stays plain and consistent."""

from __future__ import annotations

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
FEEDBACK_FAILED = "Sorry, I couldn't save your feedback. It has been logged."
SHARE_FAILED = "Sorry, I couldn't share this answer; it may be too old. Please ask again."
SOURCES_FAILED = (
    "I can't reach the document store right now, so I can't list the sources. Please try again later."
)
