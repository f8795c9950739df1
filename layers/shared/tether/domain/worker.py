"""The worker decision after a reply (seed 003): what happens next in the thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

# the classifier's rules (its patterns are compiled at import) load with the first
# decision: the send path imports this module for OPT_OUT_CONFIRMATION only
if TYPE_CHECKING:
    from tether.domain.classification import Classification

FOLLOW_UP_AFTER = timedelta(days=1)


class NextStep(StrEnum):
    AUTO_REPLY = "auto_reply"  # the campaign's AI worker answers
    FOLLOW_UP = "follow_up"  # nothing now; the worker writes again later
    HUMAN_TAKEOVER = "human_takeover"  # a person calls or writes


@dataclass(frozen=True, slots=True)
class WorkerDecision:
    next_step: NextStep | None  # None: the conversation is over (opt-out, not interested)
    follow_up_after: timedelta | None = None


def decide(classification: Classification) -> WorkerDecision:
    """High intent goes to a person at once; a question or a plain answer gets the
    worker's reply; a captured email earns a follow-up; an opt-out, a "not interested"
    or a wrong number ends it (an opt-out's one confirmation is compliance, not a step)."""
    from tether.domain.classification import Intent

    if classification.intent in {
        Intent.OPT_OUT,
        Intent.NOT_INTERESTED,
        Intent.WRONG_NUMBER,
        Intent.RESUBSCRIBE,
    }:
        return WorkerDecision(None)
    if classification.high_intent:
        return WorkerDecision(NextStep.HUMAN_TAKEOVER)
    if classification.email:
        return WorkerDecision(NextStep.FOLLOW_UP, FOLLOW_UP_AFTER)
    return WorkerDecision(NextStep.AUTO_REPLY)


# The texts Tether sends on its own. The opt-out confirmation is the one text CTIA
# expects back after STOP; HELP must say how to opt out.
OPT_OUT_CONFIRMATION = (
    "You're unsubscribed and will get no more messages from us. Reply START to undo."
)
HELP_REPLY = "Reply STOP to unsubscribe. Msg & data rates may apply."
AUTO_REPLY = "Thanks for your reply! We'll get back to you shortly."


def help_reply(brand_name: str | None, help_contact: str | None) -> str:
    """The HELP answer: who is texting, how to reach them, how to stop (CTIA). A tenant
    cannot launch without both names; a campaign launched before they were required
    still answers with how to stop."""
    if brand_name and help_contact:
        return f"{brand_name}: for help, contact {help_contact}. {HELP_REPLY}"
    return HELP_REPLY


def auto_reply_text(
    classification: Classification,
    brand_name: str | None = None,
    help_contact: str | None = None,
) -> str:
    """What the worker answers (a model can take this over behind ReplyClassifier's
    sibling; the rule-based default answers HELP as the carriers require, naming the
    tenant's brand and contact)."""
    from tether.domain.classification import Intent

    if classification.intent is Intent.HELP:
        return help_reply(brand_name, help_contact)
    return AUTO_REPLY
