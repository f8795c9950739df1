"""Results of a campaign or a number: what was sent, delivered and failed (by kind), and
what the leads did about it: replies, opt-outs and how long a first reply took. Overall
and per variant. The database keeps them (migration 0026) in the same transaction as
each message, status and opt-out it counts, so they cannot drift from those facts.

What each figure counts (campaign sends only: ``purpose = 'campaign'``; auto replies and
opt-out confirmations answer a lead, they are not outreach):

- ``requested``: sends stored (every send of the campaign, or from the number).
- ``sent``: sends the provider accepted (it gave the message an id).
- ``delivered``: sends whose last status is delivered (or read).
- ``failed``: sends that ended failed, undelivered or canceled, before or after the
  provider took them; ``failed_by_kind`` splits them (`FailureKind`).
- ``waiting``: neither accepted nor failed yet (queued, deferred, sending).
- ``mms``: of the sends stored, those that went as MMS (with media; each one message).
- ``contacts``: leads sent at least one text (a lead counts once per campaign).
- ``replies``: contacts who texted back after their first text; ``reply_rate`` is
  replies / contacts.
- ``opt_outs``: contacts whose reply opted them out (STOP and the like);
  ``opt_out_rate`` is opt_outs / contacts.
- ``median_seconds_to_first_reply``: from a contact's first text to their first reply.

A lead's variant is the variant of its first text; a send without one (a plain
template) is the variant ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_VARIANT = "default"

# Tether's own refusals (tether.domain.send_gates): the send never reached a provider.
_OPT_OUT_REFUSALS = frozenset({"suppressed", "lead_suppressed"})
_NOT_SENT_REFUSALS = frozenset({"expired", "quiet_hours"})


class FailureKind(StrEnum):
    """Why sends failed, in words a campaign owner acts on."""

    OPT_OUT = "opt_out"  # the recipient had opted out (Tether's list or the carrier's)
    INVALID_NUMBER = "invalid_number"  # not a reachable mobile: invalid, landline, no SMS
    CARRIER_FILTERED = "carrier_filtered"  # a carrier or the provider filtered it as spam
    TEMPORARY = "temporary"  # transient failures that outlasted the retries
    ACCOUNT = "account"  # our provider account or number set-up: an operator must act
    REJECTED = "rejected"  # any other permanent refusal by the provider
    NOT_SENT = "not_sent"  # held by Tether: validity expired, no sending window, lead state
    UNKNOWN = "unknown"  # failed without a code


# The provider error kinds (tether.providers.base.ProviderErrorKind values).
_BY_PROVIDER_KIND: Mapping[str, FailureKind] = {
    "unsubscribed": FailureKind.OPT_OUT,
    "invalid_number": FailureKind.INVALID_NUMBER,
    "not_sms_capable": FailureKind.INVALID_NUMBER,
    "landline": FailureKind.INVALID_NUMBER,
    "filtered": FailureKind.CARRIER_FILTERED,
    "retryable": FailureKind.TEMPORARY,
    "auth": FailureKind.ACCOUNT,
    "rejected": FailureKind.REJECTED,
}


def failure_kind(code: str | None, provider_kind: str | None) -> FailureKind:
    """The kind of a failed send from its stored error code and, for a provider's code,
    the provider error kind that code has (None when it is not a provider's)."""
    if code is None:
        return FailureKind.UNKNOWN
    if code in _OPT_OUT_REFUSALS:
        return FailureKind.OPT_OUT
    if code in _NOT_SENT_REFUSALS or code.startswith("lead_"):
        return FailureKind.NOT_SENT
    if code in _BY_PROVIDER_KIND:  # a refusal stored by its kind, the provider gave no code
        return _BY_PROVIDER_KIND[code]
    return _BY_PROVIDER_KIND.get(provider_kind or "", FailureKind.REJECTED)


def rate(part: int, whole: int) -> float | None:
    """part / whole to four places, None when there is no whole."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class SendOutcomes:
    """One group's sends by how they ended (see the module docstring)."""

    requested: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    waiting: int = 0
    failed_by_kind: Mapping[FailureKind, int] = field(default_factory=dict)
    mms: int = 0


@dataclass(frozen=True, slots=True)
class Engagement:
    """One group's contacts and what they did."""

    contacts: int = 0
    replies: int = 0
    opt_outs: int = 0
    median_seconds_to_first_reply: float | None = None


@dataclass(frozen=True, slots=True)
class ResultFigures:
    """The figures of one group (a variant, or all of them)."""

    requested: int
    sent: int
    delivered: int
    failed: int
    waiting: int
    failed_by_kind: Mapping[FailureKind, int]
    contacts: int
    replies: int
    reply_rate: float | None
    opt_outs: int
    opt_out_rate: float | None
    median_seconds_to_first_reply: float | None
    mms: int = 0

    @classmethod
    def of(cls, outcomes: SendOutcomes, engagement: Engagement) -> ResultFigures:
        return cls(
            requested=outcomes.requested,
            sent=outcomes.sent,
            delivered=outcomes.delivered,
            failed=outcomes.failed,
            waiting=outcomes.waiting,
            failed_by_kind=dict(outcomes.failed_by_kind),
            contacts=engagement.contacts,
            replies=engagement.replies,
            reply_rate=rate(engagement.replies, engagement.contacts),
            opt_outs=engagement.opt_outs,
            opt_out_rate=rate(engagement.opt_outs, engagement.contacts),
            median_seconds_to_first_reply=engagement.median_seconds_to_first_reply,
            mms=outcomes.mms,
        )


@dataclass(frozen=True, slots=True)
class Results:
    """A campaign's or a number's results: overall, and per variant by name."""

    overall: ResultFigures
    by_variant: Mapping[str, ResultFigures]


def add_outcomes(
    into: SendOutcomes,
    count: int,
    *,
    accepted: bool,
    status: str,
    failure: FailureKind | None,
    mms: int = 0,
) -> SendOutcomes:
    """`into` with `count` more sends that are `accepted` (or not) and in `status`;
    `failure` is their kind when the status is a failure."""
    failed = status in FAILED_STATUSES
    delivered = status in DELIVERED_STATUSES
    kinds = dict(into.failed_by_kind)
    if failed:
        kind = failure or FailureKind.UNKNOWN
        kinds[kind] = kinds.get(kind, 0) + count
    return SendOutcomes(
        requested=into.requested + count,
        sent=into.sent + (count if accepted else 0),
        delivered=into.delivered + (count if delivered else 0),
        failed=into.failed + (count if failed else 0),
        waiting=into.waiting + (count if not accepted and not failed else 0),
        failed_by_kind=kinds,
        mms=into.mms + mms,
    )


FAILED_STATUSES = frozenset({"failed", "undelivered", "canceled"})
DELIVERED_STATUSES = frozenset({"delivered", "read"})


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many sends of one variant ended one way (a row of the stored facts, grouped)."""

    variant: str | None  # None: sent without a variant
    provider: str  # of the sending number's account
    status: str
    error_code: str | None
    accepted: bool
    count: int
    mms: int = 0  # of `count`, the sends that went as MMS


@dataclass(frozen=True, slots=True)
class VariantEngagement:
    """The contacts of one variant (None: all variants together) and what they did."""

    variant: str | None
    overall: bool
    engagement: Engagement
