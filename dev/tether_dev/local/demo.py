"""`make demo`: one tenant's day on the local stack, driven over HTTP like a client.

A tenant (bootstrapped with `python -m tether_dev tenant create`, the one step that is not
HTTP) sets its quiet hours, hands its sandbox credentials to Tether (which keeps them
in moto's Secrets Manager under the tenant's path), registers a pool of numbers, makes GIANNA's first-touch campaign and CATHY's nudge
campaign, maps the 7-day timer to the nudge, imports leads and launches. The sends go
out through OutboundQueue and the outbound function; the sandbox calls back
queued → sent → delivered. Then leads reply (interest, an email, STOP, and a stranger
to one of our numbers), the timers function runs with its clock eight days ahead, a
number is leased for a call and released, the voice side reports calls by webhook
(a VAPI booking holds Ben's number, two unanswered Twilio-style calls release Eve's),
Ben is written to on WhatsApp (a template, his answer, free-form text inside the window
it opened), and the demo prints a lead's trace, the pool, the call queue and the bell.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import urllib3

from tether.domain.outbox import EventType
from tether_dev.local.client import LocalStack
from tether_dev.local.listeners import BellListener, EventReceiver

POOL = "Demo Pool"
NUMBERS = ["+14155550101", "+14155550102", "+14155550103", "+14155550104", "+14155550105"]
LEADS = {  # name: (phone, what they answer: None for nothing)
    "Ana": ("+12125550111", "Yes, I'm interested. Call me tomorrow"),
    "Ben": ("+13125550112", "Maybe later, send details to ben@example.com"),
    "Cleo": ("+14155550113", "STOP"),
    "Dan": ("+16175550114", None),
    "Eve": ("+13035550115", None),
}
STRANGER = "+19175550199"  # a phone that is no lead of the tenant
# the campaign's WhatsApp sender (a pool of its own, so staging never takes it for SMS)
WHATSAPP_NUMBER = "+14155550106"
WHATSAPP_POOL = "Demo WhatsApp"
WHATSAPP_LEAD = "Ben"
WHATSAPP_TEMPLATE = {
    "name": "demo_follow_up",
    "language": "en",
    "provider_template_id": "HX00000000000000000000000000000001",
    "body": "Hi {{1}}, it's Gianna from Acme Homes on WhatsApp. Shall we talk about {{2}}?",
}
# the MMS step's lead (added after the launch, so the day's other counts stay as they
# are), the photo it is sent and the one it sends back (a real PNG's first bytes)
MMS_LEAD = ("Fay", "+15035550116")  # Oregon: no state hours of its own
MMS_OUT_URL = "https://images.example.com/listings/42/front.jpg"
MMS_PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16
# seed 001: a lead who answers by email with a phone number (added to Cathy's campaign)
# issue 18's lead page: Ben, texted and written to on WhatsApp, answers by email too
ONE_LEAD = ("Ben", "ben@example.com", "Thursday at 3 works, thanks.")
EMAIL_LEAD = ("Gus", "+17185550116", "gus@example.com", "Sure, call me at 6505300051 after 5pm")
TIMER_CLOCK_AHEAD = timedelta(days=8)


class DemoError(Exception):
    pass


@dataclass
class DemoRun:
    """What the demo made, for a reader or a test to look up."""

    tenant_id: str
    api_key: str
    account_id: str = ""
    gianna: str = ""  # the first-touch campaign
    cathy: str = ""  # the nudge campaign
    leads: dict[str, str] = field(default_factory=dict)  # name: lead id
    seconds: float = 0.0  # how long the whole scenario took
    subscription: str = ""  # the webhook subscription to every event type
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook-id: envelope
    forged: int = 0  # deliveries the receiver could not verify
    bells: list[dict[str, Any]] = field(default_factory=list)  # pushed over the WebSocket
    # the call outcomes the voice side reported by webhook: name: (number, lease after it)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the WhatsApp step: the free-form refusal's status, and the messages it sent
    whatsapp: dict[str, Any] = field(default_factory=dict)
    # the MMS step: Fay's lead id, her inbound MMS, and the bytes its presigned URL read
    mms_lead: str = ""
    mms_message: dict[str, Any] = field(default_factory=dict)
    mms_fetched: bytes = b""
    # False where the gateway's URL is not the one its functions see (the emulator of
    # `make deploy-check`): Twilio-style signatures over the URL cannot verify there
    url_signed_webhooks: bool = True
    # Ben's page: every (channel, direction, bound address) his trace lists
    one_lead: list[tuple[str, str, str]] = field(default_factory=list)
    reply_mailbox: str = ""  # where the tenant's email replies arrive
    email_lead: str = ""  # the lead who replied by email
    email_lease: str = ""  # the number leased for that lead's call


@dataclass(frozen=True)
class DemoApi:
    """The management API through the local gateway, as one tenant's key."""

    stack: LocalStack
    key: str

    def __call__(
        self, method: str, path: str, body: Any = None, expect: Iterable[int] = (200, 201)
    ) -> Any:
        answer = self.stack.call(method, path, body, {"Authorization": f"Bearer {self.key}"})
        if answer.status not in set(expect):
            raise DemoError(f"{method} {path}: {answer.status} {answer.body.decode()[:500]}")
        return answer.json()


def run_demo(
    stack: LocalStack,
    *,
    say: Callable[[str], None] = print,
    wait_seconds: float = 60.0,
    environment: dict[str, str] | None = None,
    receiver: EventReceiver | None = None,
    url_signed_webhooks: bool = True,
) -> DemoRun:
    """The whole scenario; raises DemoError when a step does not come out as it should."""
    started = time.monotonic()

    def step(title: str) -> None:
        say(f"\n== {title}  (+{time.monotonic() - started:.1f}s)")

    step("A tenant, and its settings")
    tenant_id, key = create_tenant(
        stack, f"Demo {datetime.now(UTC):%Y-%m-%d %H:%M:%S}", environment
    )
    run = DemoRun(tenant_id, key, url_signed_webhooks=url_signed_webhooks)
    api = DemoApi(stack, key)
    # the whole day is a sending window, so the demo runs at any hour; no pacing
    # (an attested wider window: the demo's leads are in no state with its own hours)
    api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                   "quiet_hours_wider_attested": True,
                                   "send_segments_per_second": None,
                                   "brand_name": "Tether Demo",
                                   "help_contact": "help@tether.example"})  # fmt: skip
    say(f"tenant {tenant_id}, API key {key[:12]}… (quiet hours off for the demo)")

    step("Your systems listen: a webhook subscription to every event, a WebSocket on the bell")
    with contextlib.ExitStack() as listening:
        if receiver is None:  # a caller's own receiver outlives the demo
            receiver = listening.enter_context(EventReceiver())
        subscription = api("POST", "/v1/event-subscriptions", {
            "url": receiver.url, "event_types": [t.value for t in EventType]})  # fmt: skip
        receiver.secret, run.subscription = subscription["secret"], subscription["id"]
        say(f"subscription {run.subscription} → {receiver.url} (verified with standardwebhooks)")
        websocket_url = stack.state.get("websocket_url")
        bell = BellListener(str(websocket_url), key) if websocket_url else None
        if bell is not None:
            say(f"WebSocket {websocket_url}: {bell.subscribed}")
        try:
            _day(stack, api, run, say, step, wait_seconds, receiver, bell)
        finally:
            if bell is not None:
                run.bells = bell.bells()
                bell.close()
            run.events, run.forged = dict(receiver.events), receiver.refused
    run.seconds = time.monotonic() - started
    say(f"\ndemo finished in {run.seconds:.1f}s; explore with"
        f" curl -H 'Authorization: Bearer {key}' {stack.gateway_url}/v1/leads/{run.leads['Dan']}/trace")  # fmt: skip
    return run


def _day(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
    receiver: EventReceiver,
    bell: BellListener | None,
) -> None:
    """The tenant's day, from its provider account to the bell."""

    step("A provider account (the sandbox); Tether keeps its secrets in Secrets Manager")
    signing_secret = str(stack.state["sandbox_signing_secret"])
    account = api("POST", "/v1/provider-accounts", {
        "provider": "sandbox", "name": "Sandbox", "signing_secret": signing_secret})  # fmt: skip
    run.account_id = account["id"]
    # the sandbox knows the account by Tether's id (it posts to .../{account_id}), so
    # the send credentials follow once the id is known: a rotation, as a client would
    api("PUT", f"/v1/provider-accounts/{run.account_id}/secrets", {"credentials": {
        "account_id": run.account_id, "api_token": str(stack.state["sandbox_api_token"]),
        "base_url": stack.sandbox_url}})  # fmt: skip
    say(
        f"provider account {run.account_id}; webhooks at {stack.state['webhook_url']}/{run.account_id}"
    )

    step("A pool of numbers, two campaigns, staged")
    registered = api("POST", "/v1/phone-numbers", {
        "provider_account_id": run.account_id, "pool": POOL,
        "numbers": [{"number": n} for n in NUMBERS]})  # fmt: skip
    say(f"registered {len(registered['stored'])} numbers in {POOL!r}")
    run.gianna = _campaign(api, "Spring outreach", "initial_message", "gianna",
                           "Hi, it's Gianna from Acme Homes. Still thinking of selling this year?", 1)  # fmt: skip
    run.cathy = _campaign(api, "Cathy's nudge", "nudger", "cathy",
                          "Cathy from Acme here, just checking in. Any questions I can answer?", 0)  # fmt: skip
    for name, campaign_id in (("Spring outreach", run.gianna), ("Cathy's nudge", run.cathy)):
        staged = api("GET", f"/v1/campaigns/{campaign_id}")
        say(
            f"campaign {name!r} ({staged['ai_worker']}, {staged['workspace_stage']}): {staged['status']}"
        )
    api("PUT", "/v1/escalations/TIMER_7D", {"action": "move", "campaign_id": run.cathy})
    say("escalation map: a lead unanswered after 7 days moves to Cathy's nudge campaign")

    step("Leads imported (an invalid row and a duplicate included), launch")
    rows = [{"phone": phone, "first_name": name} for name, (phone, _) in LEADS.items()]
    rows += [{"phone": "555-12"}, {"phone": "(212) 555-0111", "first_name": "Ana"}]
    imported = api("POST", f"/v1/campaigns/{run.gianna}/leads", {"leads": rows})
    say(f"imported {imported['imported']}, merged {imported['merged']}, rejected:"
        f" {[(r['value'], r['reason']) for r in imported['rejected']]}")  # fmt: skip
    run.leads = _lead_ids(api, run.gianna)
    launch = api("POST", f"/v1/campaigns/{run.gianna}/launch", expect=(202,))
    launch_path = f"/v1/campaigns/{run.gianna}/launches/{launch['id']}"
    launched = _wait(lambda: (found := api("GET", launch_path))["status"] == "complete" and found,
                     "the launch's chunks done", wait_seconds)  # fmt: skip
    say(f"launch {launch['status']} (202); done: {launched['queued']} first messages queued")
    _wait(lambda: _all_delivered(api, run, LEADS), "every first message delivered", wait_seconds)
    progress = api("GET", f"/v1/campaigns/{run.gianna}")["progress"]
    say(f"progress: {progress}")

    step("Leads reply; a stranger texts one of our numbers")
    for name, (phone, text) in LEADS.items():
        if text is not None:
            stack.reply(lead=phone, to=_bound_number(api, run.leads[name]), text=text)
            say(f"{name} ({phone}) → {text!r}")
    stack.reply(lead=STRANGER, to=NUMBERS[0], text="Hi, who is this?")
    say(f"a stranger ({STRANGER}) → 'Hi, who is this?'")
    expected = {"Ana": "high_intent", "Ben": "email_captured", "Cleo": "suppressed"}
    _wait(lambda: _states(api, run, expected), "the replies processed", wait_seconds)
    _wait(lambda: api("GET", "/v1/unmatched-inbound")["items"] or None, "the stranger parked",
          wait_seconds)  # fmt: skip
    _print_table(say, "lead states", ["lead", "state", "email"], [
        [name, lead["state"], lead["email"] or ""]
        for name, lead in ((n, api("GET", f"/v1/leads/{run.leads[n]}")) for n in LEADS)])  # fmt: skip

    step(f"The timers function, its clock {TIMER_CLOCK_AHEAD.days} days ahead")
    moved = datetime.now(UTC) + TIMER_CLOCK_AHEAD
    fired = stack.invoke("timers", {"source": "aws.events", "detail-type": "Scheduled Event",
                                    "time": moved.isoformat().replace("+00:00", "Z"), "detail": {}})  # fmt: skip
    say(f"timers at {moved:%Y-%m-%d %H:%M}Z: {fired}")
    _wait(lambda: _escalated(api, run), "Dan and Eve's nudges and Ben's follow-up delivered",
          wait_seconds)  # fmt: skip

    step("A number leased for Ana's call, then released after two unanswered calls")
    ana = run.leads["Ana"]
    lease = api("POST", f"/v1/leads/{ana}/lease", {"pool": POOL})
    say(f"Ana holds {lease['phone_number']} until {lease['release_at']}"
        f" ({'leased when she replied' if lease['already_held'] else 'leased now'})")  # fmt: skip
    _pool_table(api, say, "pool health while leased")
    for attempt in (1, 2):
        outcome = api(
            "POST", f"/v1/leads/{ana}/call-outcome", {"outcome": "no_answer", "pool": POOL}
        )
        say(f"call {attempt}: no answer → release at {outcome['release_at'] or 'now (released)'}")
    _pool_table(api, say, "pool health after the release")

    _call_step(stack, api, run, say, step, wait_seconds)
    _whatsapp_step(stack, api, run, say, step, wait_seconds)
    _mms_step(stack, api, run, say, step, wait_seconds)
    _email_step(stack, api, run, say, step, wait_seconds)
    _one_lead_step(stack, api, run, say, step, wait_seconds)

    step("Where everything stands")
    _trace_table(api, say, "Dan", run.leads["Dan"])
    _print_table(say, "call queue", ["lead", "phone", "priority", "reason", "status"], [
        [e["first_name"] or "", e["lead_phone"], e["priority"], e["reason"], e["status"]]
        for e in api("GET", "/v1/call-queue")["items"]])  # fmt: skip
    counts = api("GET", "/v1/notifications/unread-counts")
    _print_table(say, "the bell: unread per workspace stage", ["workspace stage", "unread"],
                 [[stage, n] for stage, n in sorted(counts["counts"].items())] + [["total", counts["total"]]])  # fmt: skip
    if bell is not None:
        pushed = _wait(lambda: bell.bells(), "a bell pushed over the WebSocket", wait_seconds)
        say(f"pushed over the WebSocket: {len(pushed)} bells, the last {pushed[-1]['counts']}")
    delivered = _wait(lambda: _all_received(api, run, receiver), "every event at the receiver",
                      wait_seconds)  # fmt: skip
    _print_table(say, f"events your systems received ({delivered} deliveries, each verified)",
                 ["event type", "events"], sorted(receiver.by_type().items()))  # fmt: skip


def _call_step(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
) -> None:
    """The voice side reports how calls ended, by webhook, and the leases follow seed
    001's rules with no API call: a VAPI end-of-call report books Ben (his number held
    until a day after the appointment), Twilio-style status callbacks say Eve did not
    answer twice (her number released)."""
    step("Call outcomes by webhook: VAPI and Twilio-style reports move the leases")
    secret = str(stack.state["sandbox_signing_secret"])  # the voice side signs with it
    vapi = api("POST", "/v1/provider-accounts", {
        "provider": "vapi", "name": "VAPI", "signing_secret": secret})  # fmt: skip
    twilio = api("POST", "/v1/provider-accounts", {
        "provider": "twilio", "name": "Twilio voice", "signing_secret": secret})  # fmt: skip
    say(f"voice webhooks at {vapi['voice_webhook_path']} and {twilio['voice_webhook_path']}")
    ben, eve = run.leads["Ben"], run.leads["Eve"]
    numbers = {
        name: api("POST", f"/v1/leads/{lead}/lease", {"pool": POOL})["phone_number"]
        for name, lead in (("Ben", ben), ("Eve", eve))
    }
    appointment = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    stack.report_call(style="vapi", account_id=vapi["id"], from_=numbers["Ben"],
                      to=LEADS["Ben"][0], ended_reason="customer-ended-call",
                      structured_data={"booked": True, "appointmentTime": appointment.isoformat()})  # fmt: skip
    say(f"VAPI: Ben's call ended, booked for {appointment:%Y-%m-%d %H:%M}Z")
    for status in ("no-answer", "busy"):
        if run.url_signed_webhooks:
            stack.report_call(style="twilio", account_id=twilio["id"], from_=numbers["Eve"],
                              to=LEADS["Eve"][0], status=status)  # fmt: skip
            say(f"Twilio-style status callback: Eve's call {status}")
        else:  # a signature over the URL cannot verify behind this gateway: VAPI's
            reason = f"customer-{'did-not-answer' if status == 'no-answer' else status}"
            stack.report_call(style="vapi", account_id=vapi["id"], from_=numbers["Eve"],
                              to=LEADS["Eve"][0], ended_reason=reason)  # fmt: skip
            say(f"VAPI end-of-call report: Eve's call {reason}")

    def applied() -> dict[str, dict[str, Any]] | None:
        booked = [
            e["payload"]
            for e in api("GET", f"/v1/leads/{ben}/trace")["events"]
            if e["event_type"] == "CALL_OUTCOME" and e["payload"].get("provider") == "vapi"
        ]
        pool = api("GET", f"/v1/phone-numbers?pool={quote(POOL)}&limit=100")["items"]
        by_number = {n["e164"]: n for n in pool}
        eve_number = by_number[numbers["Eve"]]
        if not booked or eve_number["currently_assigned_to"] is not None:
            return None
        return {"Ben": by_number[numbers["Ben"]] | {"call": booked[-1]}, "Eve": eve_number}

    run.calls = _wait(applied, "the call outcomes applied to the leases", wait_seconds)
    _print_table(say, "leases after the calls (no API call)", ["lead", "number", "lease", "release at"], [
        [name, n["e164"], "held" if n["currently_assigned_to"] else "released", n["release_at"] or ""]
        for name, n in run.calls.items()])  # fmt: skip


def _whatsapp_step(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
) -> None:
    """The campaign's WhatsApp sender: a template outside the 24-hour window, the lead's
    answer on WhatsApp, then free-form text inside the window it opened."""
    step(f"WhatsApp: {WHATSAPP_LEAD} on the campaign's WhatsApp sender, with its 24-hour window")
    api("POST", "/v1/phone-numbers", {
        "provider_account_id": run.account_id, "pool": WHATSAPP_POOL, "whatsapp": True,
        "numbers": [{"number": WHATSAPP_NUMBER}]})  # fmt: skip
    numbers = api("GET", f"/v1/phone-numbers?pool={WHATSAPP_POOL.replace(' ', '%20')}")["items"]
    assigned = api("POST", f"/v1/campaigns/{run.gianna}/assignments",
                   {"phone_number_id": numbers[0]["id"], "channel": "whatsapp"})  # fmt: skip
    say(f"{WHATSAPP_NUMBER} is the WhatsApp sender of 'Spring outreach'"
        f" (assignment {assigned['id']}, channel {assigned['channel']})")  # fmt: skip
    api("POST", "/v1/whatsapp-templates", WHATSAPP_TEMPLATE)
    lead_id = run.leads[WHATSAPP_LEAD]
    send = {"campaign_id": run.gianna, "lead_id": lead_id, "channel": "whatsapp"}
    refused = api("POST", "/v1/messages", {**send, "body": "Hi Ben!", "send_key": "demo-wa-free"},
                  expect=(422,))  # fmt: skip
    run.whatsapp["refused"] = refused["message"]
    say(f"free-form before Ben ever wrote on WhatsApp → 422: {refused['message']}")
    template = api("POST", "/v1/messages", {**send, "send_key": "demo-wa-template",
                   "whatsapp_template": {"name": "demo_follow_up", "variables": {
                       "1": WHATSAPP_LEAD, "2": "selling this year"}}}, expect=(202,))  # fmt: skip
    say(f"the approved template goes at any time: {template['message_id']} from"
        f" {template['from_number']}")  # fmt: skip
    _wait(lambda: _whatsapp_read(api, lead_id, template["message_id"]),
          "the template delivered and read", wait_seconds)  # fmt: skip
    stack.reply(lead=LEADS[WHATSAPP_LEAD][0], to=WHATSAPP_NUMBER, channel="whatsapp",
                text="Thanks! WhatsApp is easier for me.")  # fmt: skip
    say(f"{WHATSAPP_LEAD} → 'Thanks! WhatsApp is easier for me.' (on WhatsApp)")
    _wait(lambda: any(m["direction"] == "inbound" and m["to_address"] == WHATSAPP_NUMBER
                      for m in api("GET", f"/v1/leads/{lead_id}/trace")["messages"]),
          "Ben's WhatsApp message matched", wait_seconds)  # fmt: skip
    free = api("POST", "/v1/messages", {**send, "send_key": "demo-wa-free-2",
               "body": "Great, Ben. When suits you for a call?"}, expect=(202,))  # fmt: skip
    _wait(lambda: _whatsapp_read(api, lead_id, free["message_id"]),
          "the free-form answer delivered and read", wait_seconds)  # fmt: skip
    run.whatsapp["messages"] = [template["message_id"], free["message_id"]]
    say("inside the window Ben's message opened, free-form text goes")
    trace = api("GET", f"/v1/leads/{lead_id}/trace")
    _print_table(say, f"{WHATSAPP_LEAD}'s bindings: one sticky sender per channel",
                 ["campaign", "channel", "bound number"],
                 [[b["campaign_name"], b.get("channel", "sms"), b["phone_number"]]
                  for b in trace["bindings"]])  # fmt: skip
    _print_table(say, f"{WHATSAPP_LEAD}'s messages, SMS and WhatsApp",
                 ["direction", "from", "to", "status", "text"],
                 [[m["direction"], m["from_address"], m["to_address"], m["status"],
                   m["body"][:40]] for m in trace["messages"]])  # fmt: skip


def _whatsapp_read(api: DemoApi, lead_id: str, message_id: str) -> bool:
    messages = api("GET", f"/v1/leads/{lead_id}/trace")["messages"]
    return any(m["id"] == message_id and m["status"] == "read" for m in messages)


def _mms_step(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
) -> None:
    """MMS (issue 18): a photo goes out as one MMS from the lead's bound number; the lead
    answers with a photo of her own, which Tether copies into its media bucket and hands
    back through a short-lived presigned URL."""
    step("MMS: a photo out, a photo back, copied into the media bucket")
    name, phone = MMS_LEAD
    api(
        "POST",
        f"/v1/campaigns/{run.gianna}/leads",
        {"leads": [{"phone": phone, "first_name": name}]},
    )
    found = api("GET", f"/v1/leads?campaign_id={run.gianna}&limit=100")["items"]
    run.mms_lead = next(lead["id"] for lead in found if lead["phone"] == phone)
    sent = api("POST", "/v1/messages", {"campaign_id": run.gianna, "lead_id": run.mms_lead,
               "body": "Here's the listing we talked about", "media_urls": [MMS_OUT_URL]},
               expect=(202,))  # fmt: skip
    say(f"{name} is sent an MMS from {sent['from_number']}: {MMS_OUT_URL}")
    _wait(lambda: _outbound_delivered(api, run.mms_lead), f"{name}'s MMS delivered", wait_seconds)
    stack.reply(lead=phone, to=sent["from_number"], text="Love it, here's my place",
                account_id=run.account_id, media=[("image/png", MMS_PHOTO)])  # fmt: skip
    say(f"{name} ({phone}) → an MMS with a {len(MMS_PHOTO)}-byte PNG")

    def copied() -> dict[str, Any] | None:
        messages = api("GET", f"/v1/leads/{run.mms_lead}/trace")["messages"]
        for message in messages:
            if message["direction"] == "inbound" and message["channel"] == "mms":
                stored = [a for a in message["attachments"] if a["copy_state"] == "stored"]
                return message if stored else None
        return None

    run.mms_message = _wait(copied, f"{name}'s photo copied into the media bucket", wait_seconds)
    [attachment] = run.mms_message["attachments"]
    answer = urllib3.request("GET", attachment["url"], retries=False, timeout=10)
    if answer.status != 200:
        raise DemoError(f"the presigned URL answered {answer.status}")
    run.mms_fetched = answer.data
    say(f"copied: {attachment['content_type']}, {attachment['size_bytes']} bytes; the presigned"
        f" URL (until {attachment['expires_at']}) reads back {len(run.mms_fetched)} bytes,"
        f" {'the same' if run.mms_fetched == MMS_PHOTO else 'NOT the same'}")  # fmt: skip
    _trace_table(api, say, name, run.mms_lead)


def _outbound_delivered(api: DemoApi, lead_id: str) -> bool:
    messages = api("GET", f"/v1/leads/{lead_id}/trace")["messages"]
    outbound = [m for m in messages if m["direction"] == "outbound"]
    return bool(outbound) and all(m["status"] == "delivered" for m in outbound)


def _email_step(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
) -> None:
    """Seed 001's pool flow by email: a lead answers from his inbox with a phone number,
    the mail reaches the tenant's reply mailbox (SES → S3 → inbound_email, here the
    stack's email drop), lands on his email thread, and a number is leased for the call."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    step("A lead replies by email with a phone number (seed 001): a number is leased")
    run.reply_mailbox = f"replies@t{run.tenant_id[:8]}.reply.tether.example"
    api("PATCH", "/v1/settings", {"reply_mailbox": run.reply_mailbox})
    name, phone, address, text = EMAIL_LEAD
    api("POST", f"/v1/campaigns/{run.cathy}/leads",
        {"leads": [{"phone": phone, "first_name": name, "email": address}]})  # fmt: skip
    found = api("GET", f"/v1/leads?campaign_id={run.cathy}&phone={phone.replace('+', '%2B')}")
    lead = found["items"][0]
    run.email_lead = lead["id"]
    say(f"reply mailbox {run.reply_mailbox}; {name}'s reply address is {lead['reply_address']}")
    mail = EmailMessage()
    mail["From"] = f"{name} <{address}>"
    mail["To"] = lead["reply_address"]
    mail["Subject"] = "Re: Cathy from Acme"
    mail["Message-ID"] = make_msgid(domain="example.com")
    mail.set_content(
        f"{text}\n\nOn Monday, Cathy from Acme wrote:\n> Any questions I can answer?\n"
    )
    mail.add_alternative(f"<p>{text}</p><blockquote>Any questions I can answer?</blockquote>",
                         subtype="html")  # fmt: skip
    dropped = stack.drop_mail(mail.as_bytes(), f"{name.lower()}-reply")
    say(f"{name} ({address}) → {text!r}  (received as {dropped})")
    held = _wait(
        lambda: (
            (found := api("GET", f"/v1/leads/{run.email_lead}"))["assigned_phone_number_id"]
            and found
        ),
        f"{name}'s email applied and a number leased",
        wait_seconds,
    )
    pool = api("GET", "/v1/pools")["pools"]
    run.email_lease = held["assigned_phone_number_id"]
    say(f"{name} is {held['state']}; number {run.email_lease} leased from {POOL!r}"
        f" ({pool[0]['assigned']} leased now)")  # fmt: skip


def _all_received(api: DemoApi, run: DemoRun, receiver: EventReceiver) -> int | None:
    """The delivery log's count once every delivery in it is done and at the receiver."""
    path = f"/v1/event-subscriptions/{run.subscription}/deliveries?limit=100"
    log: list[dict[str, Any]] = []
    page: dict[str, Any] = {"next_cursor": ""}
    while page["next_cursor"] is not None:
        page = api("GET", path + (f"&cursor={page['next_cursor']}" if page["next_cursor"] else ""))
        log += page["items"]
    if not log or any(d["status"] != "delivered" for d in log):
        return None
    received = receiver.event_ids()
    return len(log) if {d["event_id"] for d in log} <= received else None


def create_tenant(
    stack: LocalStack, name: str, environment: dict[str, str] | None = None
) -> tuple[str, str]:
    """`python -m tether_dev tenant create NAME` against the stack's database: the tenant's
    id and its first key."""
    env = dict(environment or {}) | {"DATABASE_URL": str(stack.state["database_url"])}
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tether_dev", "tenant", "create", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    tenant = re.search(r"tenant (\S+) created", result.stdout)
    key = re.search(r"API key \(shown once, store it now\): (\S+)", result.stdout)
    if result.returncode != 0 or tenant is None or key is None:
        raise DemoError(f"tenant create failed: {result.stdout}{result.stderr}")
    return tenant.group(1), key.group(1)


def _campaign(
    api: DemoApi, name: str, stage: str, worker: str, template: str, rotation: int
) -> str:
    created = api("POST", "/v1/campaigns", {"name": name, "workspace_stage": stage,
                                            "ai_worker": worker, "pool": POOL, "template": template})  # fmt: skip
    api("POST", f"/v1/campaigns/{created['id']}/stage", {"rotation_numbers": rotation})
    campaign_id: str = created["id"]
    return campaign_id


def _lead_ids(api: DemoApi, campaign_id: str) -> dict[str, str]:
    """The imported leads' ids, by name (found by their phones)."""
    by_phone = {phone: name for name, (phone, _) in LEADS.items()}
    leads = api("GET", f"/v1/leads?campaign_id={campaign_id}&limit=100")["items"]
    ids = {by_phone[lead["phone"]]: lead["id"] for lead in leads if lead["phone"] in by_phone}
    if len(ids) != len(LEADS):
        raise DemoError(f"expected {len(LEADS)} leads in the campaign, found {sorted(ids)}")
    return ids


def _bound_number(api: DemoApi, lead_id: str) -> str:
    bindings = api("GET", f"/v1/leads/{lead_id}/trace")["bindings"]
    number: str = bindings[0]["phone_number"]
    return number


def _all_delivered(api: DemoApi, run: DemoRun, leads: Iterable[str]) -> bool:
    for name in leads:
        messages = api("GET", f"/v1/leads/{run.leads[name]}/trace")["messages"]
        if not messages or any(
            m["status"] != "delivered" for m in messages if m["direction"] == "outbound"
        ):
            return False
    return True


def _states(api: DemoApi, run: DemoRun, expected: dict[str, str]) -> bool:
    return all(api("GET", f"/v1/leads/{run.leads[n]}")["state"] == s for n, s in expected.items())


def _escalated(api: DemoApi, run: DemoRun) -> bool:
    for name, texts in (("Dan", 2), ("Eve", 2), ("Ben", 2)):
        trace = api("GET", f"/v1/leads/{run.leads[name]}/trace")
        outbound = [m for m in trace["messages"] if m["direction"] == "outbound"]
        if len(outbound) < texts or any(m["status"] != "delivered" for m in outbound):
            return False
    return True


def _wait(check: Callable[[], Any], what: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise DemoError(f"waited {seconds:.0f}s for {what}")


def _pool_table(api: DemoApi, say: Callable[[str], None], title: str) -> None:
    _print_table(say, title, ["pool", "available", "leased", "resting", "total"], [
        [p["pool"], p["available"], p["assigned"], p["cooldown"], p["total"]]
        for p in api("GET", "/v1/pools")["pools"]])  # fmt: skip


def _one_lead_step(
    stack: LocalStack,
    api: DemoApi,
    run: DemoRun,
    say: Callable[[str], None],
    step: Callable[[str], None],
    wait_seconds: float,
) -> None:
    """One lead on every channel (issue 18): Ben, texted by SMS and written to on
    WhatsApp, answers by email as well; his trace lists each channel's messages with the
    address each is bound to (a number for SMS and WhatsApp, the mailbox for email)."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    name, address, text = ONE_LEAD
    step(f"One lead, every channel: {name}'s page")
    lead_id = run.leads[name]
    api("PATCH", f"/v1/leads/{lead_id}", {"email": address})
    lead = api("GET", f"/v1/leads/{lead_id}")
    mail = EmailMessage()
    mail["From"] = f"{name} <{address}>"
    mail["To"] = lead["reply_address"]
    mail["Subject"] = "Re: Spring outreach"
    mail["Message-ID"] = make_msgid(domain="example.com")
    mail.set_content(text)
    stack.drop_mail(mail.as_bytes(), f"{name.lower()}-reply")
    say(f"{name} ({address}) → {text!r} by email, to {lead['reply_address']}")

    def every_channel() -> list[tuple[str, str, str]] | None:
        messages = api("GET", f"/v1/leads/{lead_id}/trace")["messages"]
        seen = sorted({(m["channel"], m["direction"], m["our_address"]) for m in messages})
        return seen if any(channel == "email" for channel, _, _ in seen) else None

    run.one_lead = _wait(every_channel, f"{name}'s email on his page", wait_seconds)
    _print_table(say, f"{name}'s channels: each message bound to one address of ours",
                 ["channel", "direction", "bound address"], [list(r) for r in run.one_lead])  # fmt: skip
    _trace_table(api, say, name, lead_id)


def _trace_table(api: DemoApi, say: Callable[[str], None], name: str, lead_id: str) -> None:
    trace = api("GET", f"/v1/leads/{lead_id}/trace")
    campaigns = {b["campaign_id"]: b["campaign_name"] for b in trace["bindings"]}
    _print_table(say, f"{name}'s trace: campaign → bound number (seed 000's chain)",
                 ["campaign", "bound number", "primary", "bound at"],
                 [[b["campaign_name"], b["phone_number"], b["is_primary"], b["bound_at"][:19]]
                  for b in trace["bindings"]])  # fmt: skip
    _print_table(say, f"{name}'s messages: each from its campaign's bound number",
                 ["campaign", "channel", "bound to", "from", "to", "SID", "statuses", "media", "text"],
                 [[campaigns.get(m["campaign_id"], ""), m["channel"], m["our_address"], m["from_address"],
                   m["to_address"], (m["external_id"] or "")[:14],
                   " → ".join(s["status"] for s in m["status_history"]),
                   len(m["attachments"]), m["body"][:40]] for m in trace["messages"]])  # fmt: skip
    _print_table(say, f"{name}'s events", ["event", "from", "to", "detail"],
                 [[e["event_type"], e["previous_state"] or "", e["new_state"] or "",
                   _event_detail(e["payload"], campaigns)] for e in trace["events"]])  # fmt: skip


def _event_detail(payload: dict[str, Any], campaigns: dict[str, str]) -> str:
    if "campaign_id" in payload and "previous_campaign_id" in payload:
        before = campaigns.get(payload["previous_campaign_id"], payload["previous_campaign_id"])
        return f"{before} → {campaigns.get(payload['campaign_id'], payload['campaign_id'])}"
    return ", ".join(
        f"{k}={v}"
        for k, v in payload.items()
        if k in {"timer_type", "pool", "phone_number", "outcome"}
    )


def _print_table(
    say: Callable[[str], None], title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    say(f"\n{title}")
    say(line)
    for index, row in enumerate(cells):
        say("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            say(line)
    say(line)
