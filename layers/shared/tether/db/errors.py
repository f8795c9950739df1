"""Driver errors to domain errors, in one table. The session (tether.db.session)
translates every statement, commit and rollback through `to_domain_error`, and the
connection sources translate a failed connect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg

from tether.domain.errors import (
    BindingViolation,
    Conflict,
    ConstraintViolation,
    DependencyUnavailable,
    InvalidValue,
)

# Constraints and trigger checks that guard the hard rule (migrations 0003 and 0004).
BINDING_CONSTRAINTS = frozenset(
    {
        "messages_outbound_bound",
        "messages_bound_to_assignment",
        "messages_binding_immutable",
        "campaign_phone_assignments_immutable",
    }
)


# What a 409 says for each unique or exclusion constraint (and unique index): the
# conflict in words a client can act on. A constraint name never reaches a client;
# tests/integration/test_conflict_words.py checks that every one in the schema is here.
CONFLICT_WORDS: dict[str, str] = {
    "api_auth_failures_pkey": "this source's failures for that minute are counted already",
    "api_idempotency_pkey": "this Idempotency-Key is already in use",
    "api_keys_key_hash_key": "an API key like this one exists already; issue the key again",
    "api_keys_pkey": "an API key with this id exists already",
    "api_keys_tenant_id_id_key": "an API key with this id exists already",
    "audit_log_pkey": "an audit entry with this id exists already",
    "audit_log_rate_key_key": "this refusal is already counted for this minute",
    "call_outcomes_pkey": "a call outcome with this id exists already",
    "call_outcomes_tenant_id_provider_call_id_key": "this call's outcome was recorded already",
    "call_queue_one_open_per_lead": "the lead is already waiting in the call queue",
    "call_queue_pkey": "a call queue entry with this id exists already",
    "cpa_campaign_number_channel": "this number is already assigned to the campaign on this channel",
    "cpa_binding_target": "this number is already assigned to the campaign on this channel",
    "cpa_one_primary_per_campaign_channel": "the campaign has a primary number on this channel already",
    "whatsapp_templates_pkey": "a WhatsApp template with this id exists already",
    "whatsapp_templates_name_language": (
        "a WhatsApp template of this name and language exists already"
    ),
    "whatsapp_templates_tenant_id_id": "a WhatsApp template with this id exists already",
    "attachments_pkey": "an attachment with this id exists already",
    "attachments_tenant_id_id_key": "an attachment with this id exists already",
    "attachments_tenant_id_url_hash_key": "an attachment with this URL exists already",
    "message_attachments_pkey": "the message carries this attachment already",
    "message_attachments_message_id_position_key": "the message has an attachment in this place already",
    "campaign_phone_assignments_pkey": "a campaign number assignment with this id exists already",
    "campaign_templates_pkey": "the campaign has a variant of this name already",
    "campaigns_pkey": "a campaign with this id exists already",
    "campaigns_tenant_id_id_key": "a campaign with this id exists already",
    "campaigns_tenant_id_name_key": "a campaign with this name exists already; choose another name",
    "escalation_steps_pkey": "this escalation step is set already",
    "event_deliveries_once": "this event has a delivery to this subscription already",
    "event_deliveries_pkey": "an event delivery with this id exists already",
    "event_deliveries_webhook_id_key": "this event has a delivery to this subscription already",
    "event_subscriptions_id_tenant_key": "an event subscription with this id exists already",
    "event_subscriptions_pkey": "an event subscription with this id exists already",
    "outbox_events_id_tenant_key": "an event with this id exists already",
    "outbox_events_pkey": "an event with this id exists already",
    "launches_one_open_per_campaign": (
        "the campaign has a launch under way already: wait for it, or cancel it if it is scheduled"
    ),
    "launches_pkey": "a launch with this id exists already",
    "lead_events_dedupe_key_key": "this lead event was recorded already",
    "lead_events_pkey": "a lead event with this id exists already",
    "leads_tenant_reply_token": "another lead has this reply token already; retry",
    "lead_events_seq": "the lead changed at the same moment; retry",
    "lead_events_tenant_lead_id": "the lead changed at the same moment; retry",
    "lead_sender_bindings_pkey": (
        "the lead is already bound to a sending number in this campaign on this channel"
    ),
    "lead_state_transitions_pkey": "this lead state transition exists already",
    "lead_timers_one_active": "the lead already has an active timer of this type",
    "lead_timers_pkey": "a timer with this id exists already",
    "leads_pkey": "a lead with this id exists already",
    "leads_tenant_id_id_key": "a lead with this id exists already",
    "message_status_events_pkey": "this status event was recorded already",
    "message_status_events_receipt_id_key": "this status callback was applied already",
    "message_statuses_pkey": "this message status exists already",
    "messages_pkey": "a message with this id exists already",
    "messages_provider_external_id_key": "the provider's message id is recorded already",
    "messages_tenant_id_id_key": "a message with this id exists already",
    "messages_tenant_id_send_key_key": (
        "this send key was already used for another lead or campaign; choose another key"
    ),
    "notifications_message_id_kind_key": "this notification was made already",
    "notifications_pkey": "a notification with this id exists already",
    "outbox_events_seq": "an event was recorded at the same moment; retry",
    "number_daily_segments_pkey": "the number's count for this day exists already",
    "phone_numbers_id_e164_key": "this phone number is in the inventory already",
    "phone_numbers_one_lease_per_lead_per_pool": "the lead already holds a number of this pool",
    "phone_numbers_pkey": "a phone number with this id exists already",
    "phone_numbers_tenant_id_e164_key": "this phone number is in the inventory already",
    "phone_numbers_tenant_id_id_key": "a phone number with this id exists already",
    "provider_accounts_pkey": "a provider account with this id exists already",
    "provider_accounts_tenant_id_id_key": "a provider account with this id exists already",
    "provider_accounts_tenant_id_name_key": (
        "a provider account with this name exists already; choose another name"
    ),
    "consents_pkey": "a consent with this id exists already",
    "consents_seq_key": "a consent was recorded at the same moment; retry",
    "result_counts_pkey": "these results are being counted by another request; retry",
    "result_deltas_pkey": "these results are being counted by another request; retry",
    "result_replies_pkey": "this lead's reply is being counted by another request; retry",
    "suppressions_one_active": "this number is suppressed already",
    "suppressions_pkey": "a suppression with this id exists already",
    "tenant_config_pkey": "the tenant's settings exist already",
    "tenant_config_reply_mailbox_key": "another tenant has this reply mailbox; choose another",
    "tenants_pkey": "a tenant with this id exists already",
    "thread_insights_pkey": "the thread's insight exists already",
    "threads_pkey": "a thread with this id exists already",
    "threads_tenant_id_channel_our_address_their_address_key": (
        "a thread between these two addresses exists already"
    ),
    "threads_tenant_id_id_key": "a thread with this id exists already",
    "unmatched_inbound_pkey": "this unmatched message is recorded already",
    "webhook_receipts_idempotency_key_key": "this provider event was received already",
    "webhook_receipts_pkey": "a webhook receipt with this id exists already",
}
UNNAMED_CONFLICT = "this conflicts with something that exists already"
INVALID_VALUE = "a value is out of range or cannot be stored"


def to_domain_error(error: psycopg.Error) -> Exception:
    """The domain error for a database refusal, its message in words (never a constraint
    name or a value):

    - a broken invariant (IntegrityError): BindingViolation, Conflict (unique and
      exclusion constraints) or ConstraintViolation;
    - a value the column cannot hold (DataError): InvalidValue, the client's to fix;
    - a database that did not answer, was shut down, timed out, or gave up a
      transaction to a deadlock or a serialization failure (OperationalError):
      DependencyUnavailable, which a retry may cure.

    Anything else (a ProgrammingError or InternalError: a bug in Tether's SQL or
    grants) is returned unchanged, so the edge logs its traceback and answers 500."""
    constraint = error.diag.constraint_name
    message = error.diag.message_primary or str(error)
    if constraint in BINDING_CONSTRAINTS:
        return BindingViolation(constraint, message)
    if isinstance(error, pg.IntegrityError):
        if isinstance(error, pg.UniqueViolation | pg.ExclusionViolation):
            return Conflict(constraint, CONFLICT_WORDS.get(constraint or "", UNNAMED_CONFLICT))
        return ConstraintViolation(constraint, _rule_words(error, constraint, message))
    if isinstance(error, psycopg.DataError):
        return InvalidValue(INVALID_VALUE)
    if isinstance(error, psycopg.OperationalError):
        said = (str(error).strip().splitlines() or [""])[0]
        return DependencyUnavailable("the database", f"{type(error).__name__}: {said}")
    return error


def _rule_words(error: psycopg.Error, constraint: str | None, message: str) -> str:
    """A trigger's own message is written for people; the server's generic ones name
    the constraint, so they become words about the table."""
    if isinstance(error, pg.ForeignKeyViolation):
        return "it refers to something that does not exist"
    if isinstance(error, pg.NotNullViolation):
        return f"{(error.diag.column_name or 'a value').replace('_', ' ')} is required"
    if (constraint and constraint in message) or isinstance(error, pg.CheckViolation):
        if constraint and constraint not in message:
            return message
        table = (error.diag.table_name or "record").replace("_", " ")
        return f"a value is not allowed for this {table}"
    return message


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors raised inside become domain errors (`to_domain_error`); so does a
    text the driver cannot even encode (a lone surrogate): InvalidValue."""
    try:
        yield
    except UnicodeEncodeError as error:
        raise InvalidValue(INVALID_VALUE) from error
    except psycopg.Error as error:
        domain_error = to_domain_error(error)
        if domain_error is error:
            raise
        raise domain_error from error
