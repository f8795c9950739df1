"""The soak's day: two tenants, their leads, three campaigns each with escalations;
replies of every class, STOP racing sends, timers fired days ahead, leases; and the
faults, each at a moment drawn from the seed."""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import urllib3

from tether.domain.outbox import EventType
from tether_dev.local.client import LocalStack
from tether_dev.local.demo import DemoApi, DemoError
from tether_dev.local.listeners import EventReceiver
from tether_dev.sandbox.callbacks import event_payload, signed_headers
from tether_dev.sandbox.server import DEV_SIGNING_SECRET
from tether_dev.soak.processes import SoakProcesses

POOL = "Soak Pool"
# every class the classifier knows, by what a lead answers
REPLIES = (
    "Yes I'm interested, call me tomorrow",
    "Maybe, send details to soak{n}@example.com",
    "STOP",
    "unsubscribe",
    "HELP",
    "Who is this?",
    "Not interested, thanks",
    "Call me at 212-555-0187",
    "ok",
)
STOP_WORDS = frozenset({"STOP", "unsubscribe"})
CAMPAIGNS = (  # name, workspace stage, AI worker, template
    ("First touch", "initial_message", "gianna", "Hi {first_name}, Gianna here. Selling soon?"),
    ("Nudge", "nudger", "cathy", "Cathy here, just checking in. Any questions?"),
    ("Booking", "book_appointment", "sabrina", "Sabrina here: want a time to talk this week?"),
)
TIMER_CLOCKS = (timedelta(days=8), timedelta(days=15), timedelta(days=31))


@dataclass
class Tenant:
    tenant_id: str
    api: DemoApi
    receiver: EventReceiver
    account_id: str = ""
    campaigns: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    subscription: str = ""


@dataclass(frozen=True)
class Plan:
    """What one run does: its size and how many of each timed fault."""

    leads: int
    numbers_per_tenant: int
    kills: int
    database_restarts: int
    drive_seconds: float
    quiesce_seconds: float
    replies_per_tick: int = 4
    duplicate_webhooks: int = 60
    late_statuses: int = 120
    leases: int = 20
    # sends the sandbox takes and answers too late (the ambiguous case): each holds the
    # one-at-a-time local runtime for the adapter's read timeout
    provider_timeout_rate: float = 0.001
    intermediate_statuses: str = "queued,sent"
    # invocations at once (the local stack's containers and pollers per queue)
    concurrency: int = 4


@dataclass
class Day:
    processes: SoakProcesses
    plan: Plan
    rng: random.Random
    say: Callable[[str], None]
    tenants: list[Tenant] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    # webhooks the driver posted itself: webhook-id → times posted (answered below 500)
    crafted: Counter[str] = field(default_factory=Counter)
    replied: set[str] = field(default_factory=set)  # lead phones that answered
    timer_clock: datetime | None = None  # the latest clock the timers ran at
    leased: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def stack(self) -> LocalStack:
        return LocalStack(self.processes.state())

    # -- setup ----------------------------------------------------------------------

    def set_up(self) -> None:
        per_tenant = self.plan.leads // 2
        for index in range(2):
            receiver = EventReceiver().__enter__()
            tenant_id, key = self._create_tenant(f"Soak {index} {secrets.token_hex(3)}")
            tenant = Tenant(tenant_id, DemoApi(self.stack, key), receiver)
            self.tenants.append(tenant)
            self._tenant(tenant, index, per_tenant)
        self.say(f"set up: 2 tenants, {per_tenant * 2} leads, launched (+{self.elapsed():.0f}s)")

    def _create_tenant(self, name: str) -> tuple[str, str]:
        """As `python -m tether_dev tenant create` does, in this process: its id and key."""
        from tether.db.connection import FreshConnections, as_role
        from tether.db.unit_of_work import UnitOfWork
        from tether.services.api_keys import create_tenant

        jobs = FreshConnections(as_role(self.processes.database_url, "tether_jobs"))
        tenant_id, issued = create_tenant(UnitOfWork(jobs), name)
        return str(tenant_id), issued.key

    def _tenant(self, tenant: Tenant, index: int, leads: int) -> None:
        api = tenant.api
        api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                       "quiet_hours_wider_attested": True,
                                       "send_segments_per_second": None,
                                       "brand_name": f"Soak {index}",
                                       "help_contact": "help@soak.example"})  # fmt: skip
        subscription = api("POST", "/v1/event-subscriptions", {
            "url": tenant.receiver.url, "event_types": [t.value for t in EventType]})  # fmt: skip
        tenant.receiver.secret, tenant.subscription = subscription["secret"], subscription["id"]
        account = api("POST", "/v1/provider-accounts", {
            "provider": "sandbox", "name": "Sandbox", "signing_secret": DEV_SIGNING_SECRET})  # fmt: skip
        tenant.account_id = account["id"]
        api("PUT", f"/v1/provider-accounts/{tenant.account_id}/secrets", {"credentials": {
            "account_id": tenant.account_id, "api_token": "sandbox-token",
            "base_url": self.processes.sandbox_url}})  # fmt: skip
        tenant.numbers = [
            f"+1415{index + 2}{n:06d}" for n in range(100, 100 + self.plan.numbers_per_tenant)
        ]
        api("POST", "/v1/phone-numbers", {"provider_account_id": tenant.account_id, "pool": POOL,
                                          "numbers": [{"number": n} for n in tenant.numbers]})  # fmt: skip
        # each campaign its own numbers (a primary and its rotation); the rest for leases
        rotation = max(1, (self.plan.numbers_per_tenant - 3) // len(CAMPAIGNS) - 1)
        for name, stage, worker, template in CAMPAIGNS:
            created = api("POST", "/v1/campaigns", {"name": name, "workspace_stage": stage,
                                                    "ai_worker": worker, "pool": POOL,
                                                    "template": template})  # fmt: skip
            api("POST", f"/v1/campaigns/{created['id']}/stage", {"rotation_numbers": rotation})
            tenant.campaigns.append(created["id"])
        api(
            "PUT",
            "/v1/escalations/TIMER_7D",
            {"action": "move", "campaign_id": tenant.campaigns[1]},
        )
        api(
            "PUT",
            "/v1/escalations/TIMER_14D",
            {"action": "move", "campaign_id": tenant.campaigns[2]},
        )
        rows = [{"phone": lead_phone(index, n), "first_name": f"Lead{n}"} for n in range(leads)]
        for start in range(0, len(rows), 5000):
            api(
                "POST",
                f"/v1/campaigns/{tenant.campaigns[0]}/leads",
                {"leads": rows[start : start + 5000]},
            )
        api("POST", f"/v1/campaigns/{tenant.campaigns[0]}/launch", expect=(202,))

    # -- the day --------------------------------------------------------------------

    def drive(self) -> None:
        """Until drive_seconds pass: replies, timers and leases as the sends go out, and
        the timed faults at their drawn moments."""
        plan = self.plan
        span = plan.drive_seconds
        schedule: list[tuple[float, str]] = [
            (self.rng.uniform(0.1, 0.9) * span, "kill") for _ in range(plan.kills)
        ] + [(self.rng.uniform(0.1, 0.9) * span, "database") for _ in range(plan.database_restarts)]
        schedule += [((i + 1) / (len(TIMER_CLOCKS) + 1) * span, f"timers{i}") for i in range(3)]
        schedule.sort()
        began = time.monotonic()
        texts: list[dict[str, Any]] = []
        last_texts = 0.0
        while (elapsed := time.monotonic() - began) < span:
            if self.processes.revive_functions():
                self.say(f"the functions exited on their own; started again (+{elapsed:.0f}s)")
            while schedule and schedule[0][0] <= elapsed:
                _, what = schedule.pop(0)
                self._act(what, texts)
            if time.monotonic() - last_texts > 8 or not texts:
                texts = self._sandbox_texts()
                last_texts = time.monotonic()
            if texts:
                try:
                    self._replies(texts)
                    self._crafted_webhooks(texts)
                    self._leases()
                except (DemoError, urllib3.exceptions.HTTPError) as error:
                    # a request that met a fault: a client tries again later
                    self.say(f"request failed: {str(error)[:200]}")
            time.sleep(0.5)
        for _, what in schedule:  # whatever the clock left (a slow machine)
            self._act(what, texts)

    def end_of_day(self) -> None:
        """Every campaign paused: the sends not yet out wait for tomorrow (the sweeper
        takes them once resumed), so the day can settle and be checked."""
        for tenant in self.tenants:
            for campaign in tenant.campaigns:
                for _ in range(5):
                    try:
                        tenant.api("POST", f"/v1/campaigns/{campaign}/pause")
                        break
                    except DemoError as error:  # answered, but not 200: say why
                        self.say(f"pause refused: {str(error)[:300]}")
                        break
                    except urllib3.exceptions.HTTPError:
                        time.sleep(2)
        self.say(f"end of day: campaigns paused (+{self.elapsed():.0f}s)")

    def _act(self, what: str, texts: list[dict[str, Any]]) -> None:
        if what == "kill":
            self.faults["kill9"] += 1
            self.say(f"fault: kill -9 of the functions (+{self.elapsed():.0f}s)")
            self.processes.kill_functions()
            time.sleep(self.rng.uniform(0.5, 3.0))
            self.processes.start_functions()
        elif what == "database":
            self.faults["postgres_restart"] += 1
            self.say(f"fault: PostgreSQL restart (+{self.elapsed():.0f}s)")
            self.processes.restart_database(self.rng.uniform(0.5, 3.0))
        elif what.startswith("timers"):
            clock = datetime.now(UTC) + TIMER_CLOCKS[int(what[-1])]
            self._fire_timers(clock)
            self._stop_racing_sends(texts)

    def _fire_timers(self, clock: datetime) -> None:
        self.timer_clock = clock
        try:
            fired = self.stack.invoke("timers", scheduled(clock))
        except (RuntimeError, urllib3.exceptions.HTTPError) as error:
            fired = f"failed ({error}); the next run finds the timers still due"
        self.say(f"timers at +{(clock - datetime.now(UTC)).days}d: {fired}")

    def _stop_racing_sends(self, texts: list[dict[str, Any]]) -> None:
        """STOP from leads whose escalation sends the timers just queued."""
        for text in self.rng.sample(texts, min(15, len(texts))):
            self._reply(text, "STOP")

    def _sandbox_texts(self) -> list[dict[str, Any]]:
        """Every text the sandbox accepted for the tenants' accounts."""
        texts: list[dict[str, Any]] = []
        for tenant in self.tenants:
            with contextlib.suppress(urllib3.exceptions.HTTPError, KeyError, ValueError):
                texts += self.stack.texts(tenant.account_id)
        return texts

    def _replies(self, texts: list[dict[str, Any]]) -> None:
        for text in self.rng.sample(texts, min(self.plan.replies_per_tick, len(texts))):
            if text["to"] in self.replied:
                continue
            n = self.rng.randrange(len(REPLIES))
            self._reply(text, REPLIES[n].format(n=n))

    def _reply(self, text: dict[str, Any], body: str) -> None:
        """The lead answers through the sandbox (which retries like a provider); if the
        stack never answered, the driver posts it again later."""
        self.replied.add(text["to"])
        payload = {"from": text["to"], "to": text["from"], "body": body,
                   "account_id": text["account_id"]}  # fmt: skip
        try:
            urllib3.request(
                "POST", f"{self.processes.sandbox_url}/sandbox/replies",
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"}, timeout=60, retries=False,
            )  # fmt: skip
            self.faults["replies"] += 1
        except urllib3.exceptions.HTTPError:
            self.replied.discard(text["to"])

    def _crafted_webhooks(self, texts: list[dict[str, Any]]) -> None:
        """Duplicates (the same webhook-id twice), late and out-of-order statuses."""
        rng = self.rng
        if self.faults["late_status"] < self.plan.late_statuses:
            text = rng.choice(texts)
            status = rng.choice(("queued", "sent", "delivered"))
            data = {"id": text["sid"], "from": text["from"], "to": text["to"], "status": status}
            webhook_id = self._post_signed(text["status_callback"], "message.status", data)
            self.faults["late_status"] += 1
            if rng.random() < 0.5 and webhook_id:
                self._post_signed(text["status_callback"], "message.status", data, webhook_id)
                self.faults["duplicate_webhook"] += 1
        if self.faults["duplicate_webhook"] < self.plan.duplicate_webhooks:
            text = rng.choice(texts)
            if text["to"] in self.replied:
                return
            self.replied.add(text["to"])
            data = {"id": f"SM{secrets.token_hex(16)}", "from": text["to"], "to": text["from"],
                    "body": rng.choice(REPLIES).format(n=0), "media_urls": []}  # fmt: skip
            url = text["status_callback"]
            webhook_id = self._post_signed(url, "message.received", data)
            if webhook_id:
                for _ in range(rng.randint(1, 3)):
                    self._post_signed(url, "message.received", data, webhook_id)
                    self.faults["duplicate_webhook"] += 1

    def _post_signed(
        self, url: str, event_type: str, data: dict[str, Any], webhook_id: str | None = None
    ) -> str | None:
        """Post until answered below 500, as a provider retries; the webhook-id, or None
        if it never was."""
        webhook_id = webhook_id or f"msg_{secrets.token_hex(12)}"
        body = event_payload(event_type, data, datetime.now(UTC))
        for _ in range(20):
            headers = signed_headers(DEV_SIGNING_SECRET, webhook_id, body, datetime.now(UTC))
            try:
                response = urllib3.request(
                    "POST", url, body=body, headers=headers, timeout=60, retries=False
                )
                if response.status < 500:
                    self.crafted[webhook_id] += 1
                    return webhook_id
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(1.0)
        return None

    def _leases(self) -> None:
        """A lead that answered takes a number from the pool; some are released by two
        unanswered calls, some book."""
        if len(self.leased) >= self.plan.leases or self.rng.random() > 0.3:
            return
        tenant = self.rng.choice(self.tenants)
        phones = [
            p for p in sorted(self.replied) if p.startswith(f"+12122{tenant_index(self, tenant)}")
        ]
        if not phones:
            return
        lead = self._lead_id(tenant, self.rng.choice(phones))
        if lead is None:
            return
        api = tenant.api
        lease = api("POST", f"/v1/leads/{lead}/lease", {"pool": POOL}, expect=range(200, 500))
        if "phone_number" not in (lease or {}):
            return
        self.leased.append(lead)
        if self.rng.random() < 0.5:
            for _ in range(2):
                api("POST", f"/v1/leads/{lead}/call-outcome", {"outcome": "no_answer", "pool": POOL},
                    expect=range(200, 500))  # fmt: skip
        else:
            api("POST", f"/v1/leads/{lead}/call-outcome", {"outcome": "no_booking", "pool": POOL},
                expect=range(200, 500))  # fmt: skip

    def _lead_id(self, tenant: Tenant, phone: str) -> str | None:
        found = tenant.api("GET", f"/v1/leads?phone={quote(phone)}&limit=1",
                           expect=range(200, 500))  # fmt: skip
        items = (found or {}).get("items") or []
        return str(items[0]["id"]) if items else None

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def tenant_index(day: Day, tenant: Tenant) -> int:
    return day.tenants.index(tenant)


def lead_phone(tenant: int, n: int) -> str:
    """A valid US number, distinct per (tenant, n < 100,000): 212, exchange 2{tenant}x."""
    return f"+12122{tenant}{n // 10000}{n % 10000:04d}"


def scheduled(clock: datetime) -> dict[str, Any]:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "id": secrets.token_hex(8),
            "time": clock.isoformat().replace("+00:00", "Z"), "detail": {}}  # fmt: skip
