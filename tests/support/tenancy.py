"""The tables that belong to a tenant, each under forced row-level security."""

from __future__ import annotations

TENANT_TABLES = [
    "tenants", "tenant_config", "api_keys", "provider_accounts", "phone_numbers", "campaigns",
    "campaign_phone_assignments", "leads", "lead_sender_bindings", "message_status_events", "number_daily_segments", "suppressions", "threads", "messages", "thread_insights",
    "webhook_receipts", "lead_events", "lead_timers", "escalation_steps", "call_queue", "notifications", "audit_log", "unmatched_inbound",
    "api_idempotency", "campaign_templates", "consents", "result_deltas", "result_counts",
    "result_replies", "launches", "outbox_events", "event_subscriptions", "event_deliveries",
    "attachments", "message_attachments", "call_outcomes", "whatsapp_templates",
]  # fmt: skip
