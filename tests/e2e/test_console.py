"""The web console (console/, issue 17) in Debian's Chromium, driven by Playwright against
the local stack: one stack and one browser for the whole module. The console is served
by the api function at /console and talks to the stack over its public API only.

Skipped, saying so, only where no Chromium is installed (`apt-get install chromium`;
.ci/run does). With TETHER_SCREENSHOTS=1 the tests also save the README's screenshots
under docs/screenshots/."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dev_stack import DevStack
from tether.config import PROJECT_ROOT
from tether.domain.segments import GSM7_BASIC, GSM7_EXTENDED, count_segments
from tether_dev.local.demo import DemoApi, create_tenant

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

POOL = "Console Pool"
NUMBERS = ["+14155550161", "+14155550162"]
ANA = "+12125550161"  # replies with interest: a call, and a person answers her
CLEO = "+13125550162"  # texts STOP: her composer is off
AGENT_ZONE = "America/New_York"  # the browser's time zone: the appointment is local time
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
WAIT_MS = 20_000
T = TypeVar("T")


@dataclass
class Scene:
    api: DemoApi
    key: str
    account_id: str
    campaign_id: str
    leads: dict[str, str]  # phone: lead id
    console_url: str


def _wait(check: Callable[[], T | None], what: str, seconds: float = 30) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:.0f}s for {what}")


@pytest.fixture(scope="module")
def scene(dev_stack: DevStack) -> Scene:
    """A tenant whose campaign texted Ana and Cleo, every first text delivered."""
    stack = dev_stack.client
    _, key = create_tenant(stack, f"Console {time.time_ns()}", dev_stack.env)
    api = DemoApi(stack, key)
    api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                   "quiet_hours_wider_attested": True,
                                   "send_segments_per_second": None, "brand_name": "Acme",
                                   "help_contact": "help@acme.example"})  # fmt: skip
    account = api("POST", "/v1/provider-accounts", {"provider": "sandbox", "name": "Sandbox",
                  "signing_secret": str(stack.state["sandbox_signing_secret"])})  # fmt: skip
    api("PUT", f"/v1/provider-accounts/{account['id']}/secrets", {"credentials": {
        "account_id": account["id"], "api_token": str(stack.state["sandbox_api_token"]),
        "base_url": stack.sandbox_url}})  # fmt: skip
    api("POST", "/v1/phone-numbers", {"provider_account_id": account["id"], "pool": POOL,
                                      "numbers": [{"number": n} for n in NUMBERS]})  # fmt: skip
    campaign = api("POST", "/v1/campaigns", {"name": "Spring outreach", "pool": POOL,
                   "workspace_stage": "initial_message", "ai_worker": "gianna",
                   "template": "Hi {first_name|there}, still thinking of selling?"})  # fmt: skip
    api("POST", f"/v1/campaigns/{campaign['id']}/stage", {"rotation_numbers": 1})
    api("POST", f"/v1/campaigns/{campaign['id']}/leads",
        {"leads": [{"phone": ANA, "first_name": "Ana"}, {"phone": CLEO, "first_name": "Cleo"}]})  # fmt: skip
    leads = {
        lead["phone"]: lead["id"]
        for lead in api("GET", f"/v1/leads?campaign_id={campaign['id']}")["items"]
    }
    api("POST", f"/v1/campaigns/{campaign['id']}/launch", expect=(202,))

    def delivered() -> bool:
        texts = [api("GET", f"/v1/leads/{lead}/trace")["messages"] for lead in leads.values()]
        return all(m and all(x["status"] == "delivered" for x in m) for m in texts)

    _wait(delivered, "both first texts delivered")
    return Scene(
        api, key, account["id"], campaign["id"], leads, str(dev_stack.state["console_url"])
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, scene: Scene) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1100, "height": 800}, timezone_id=AGENT_ZONE, locale="en-US"
    )
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(scene.console_url)
    yield opened
    context.close()
    assert errors == [], f"the console threw: {errors}"


def _shot(page: Any, name: str) -> None:
    if os.environ.get("TETHER_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _bound_number(scene: Scene, phone: str) -> str:
    number: str = scene.api("GET", f"/v1/leads/{scene.leads[phone]}/trace")["bindings"][0][
        "phone_number"
    ]
    return number


def test_the_console_is_served_with_its_config_and_a_policy(
    scene: Scene, dev_stack: DevStack, page: Any
) -> None:
    answer = page.request.get(scene.console_url + "config.json")
    assert answer.ok
    base = scene.console_url.removesuffix("/console/")
    # null until the stack runs a WebSocket server (then dev.json names it too)
    websocket_url = dev_stack.state.get("websocket_url")
    assert json.loads(answer.text()) == {"api_base": base, "websocket_url": websocket_url}
    index = page.request.get(scene.console_url)
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy


def test_sign_in_keeps_the_key_in_session_storage_only(scene: Scene, page: Any) -> None:
    key_field = page.get_by_label("API key")
    key_field.fill("tth_not_a_key")
    key_field.press("Enter")  # by keyboard
    sync_api.expect(page.get_by_role("alert")).to_contain_text("not valid")
    _shot(page, "sign-in")
    key_field.fill(scene.key)
    key_field.press("Enter")
    sync_api.expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('tether.apiKey')") == scene.key
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""


def test_a_reply_appears_without_a_reload_and_the_bell_goes_up(
    scene: Scene, dev_stack: DevStack, page: Any
) -> None:
    bell = page.locator("#bell")
    sync_api.expect(bell).to_have_attribute("data-count", "0")
    # pushed over the WebSocket API when the stack has one, else polled
    pushed = bool(dev_stack.state.get("websocket_url"))
    sync_api.expect(page.locator("#mode")).to_have_attribute(
        "data-mode", "websocket" if pushed else "polling"
    )
    polls: list[str] = []

    def polled(request: Any) -> None:
        if "/unread-counts" in request.url:
            polls.append(request.url)

    page.on("request", polled)
    page.evaluate("window.notReloaded = true")
    dev_stack.client.reply(lead=ANA, to=_bound_number(scene, ANA), text="Yes! Call me tomorrow")
    sync_api.expect(bell).to_have_attribute("data-count", "1")
    page.remove_listener("request", polled)
    if pushed:
        assert polls == [], "the bell went up by a push, not a poll"
    stage = page.locator("#stages [data-stage=initial_message] .badge")
    sync_api.expect(stage).to_have_attribute("data-count", "1")
    sync_api.expect(page.locator("#threads")).to_contain_text(ANA)
    assert page.evaluate("window.notReloaded") is True
    _shot(page, "inbox")


def test_a_person_replies_from_the_bound_number(
    scene: Scene, dev_stack: DevStack, page: Any
) -> None:
    page.locator("#threads button", has_text=ANA).click()
    sync_api.expect(page.locator("#thread")).to_contain_text("Yes! Call me tomorrow")
    bound = _bound_number(scene, ANA)
    sync_api.expect(page.locator("#reply-gate")).to_contain_text(f"Sends from {bound}")
    reply = page.get_by_label(f"Reply to {ANA}")
    text = "Hi Ana, this is Sam. Would 10am tomorrow work? — Sam €"
    reply.press_sequentially(text[:20])
    sync_api.expect(page.locator("#segments")).to_contain_text("20 characters · GSM-7 · 1 segment")
    reply.fill(text)  # the dash is not GSM-7: the whole text goes as UCS-2
    reply.dispatch_event("input")
    expected = count_segments(text)
    sync_api.expect(page.locator("#segments")).to_have_attribute("data-encoding", expected.encoding)
    # opening the thread read its notification: the bell is back to nothing unread
    sync_api.expect(page.locator("#bell")).to_have_attribute("data-count", "0")
    page.get_by_role("button", name="Send reply").click()
    sync_api.expect(page.locator("#status")).to_contain_text(f"Reply queued from {bound}")

    def in_sandbox() -> dict[str, Any] | None:
        texts = dev_stack.client.texts(scene.account_id)
        return next((t for t in texts if t.get("body") == text), None)

    sent = _wait(in_sandbox, "the sandbox to record the person's reply")
    assert (sent["from"], sent["to"]) == (bound, ANA)
    sync_api.expect(page.locator("#thread .message.outbound").last).to_contain_text(text)
    _shot(page, "thread")


def test_a_reply_in_quiet_hours_shows_when_it_will_go(scene: Scene, page: Any) -> None:
    hour = datetime.now(ZoneInfo("America/New_York")).hour  # Ana's number is in New York
    # a sending window an hour long that does not hold now and does not cross midnight
    # (the settings refuse a start after the end): later today, else earlier today
    start = hour + 2 if hour <= 20 else hour - 3
    window = {"quiet_hours_start": f"{start:02}:00", "quiet_hours_end": f"{start + 1:02}:00"}
    scene.api("PATCH", "/v1/settings", window)
    try:
        page.get_by_label(f"Reply to {ANA}").fill("Or later today?")
        page.get_by_role("button", name="Send reply").click()
        held = page.locator("#thread .message.outbound .held")
        sync_api.expect(held).to_contain_text("goes at")
    finally:
        scene.api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00",
                                            "quiet_hours_end": "23:59:59"})  # fmt: skip
    trace = scene.api("GET", f"/v1/leads/{scene.leads[ANA]}/trace")["messages"]
    (waiting,) = [m for m in trace if m["body"] == "Or later today?"]
    assert waiting["status"] == "queued"
    opening = datetime.fromisoformat(held.get_attribute("data-not-before"))
    assert (
        opening.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M")
        == window["quiet_hours_start"]
    )


def test_a_suppressed_lead_cannot_be_answered_and_the_reason_shows(
    scene: Scene, dev_stack: DevStack, page: Any
) -> None:
    dev_stack.client.reply(lead=CLEO, to=_bound_number(scene, CLEO), text="STOP")
    _wait(
        lambda: scene.api("GET", f"/v1/leads/{scene.leads[CLEO]}")["state"] == "suppressed",
        "Cleo suppressed",
    )
    cleo = page.locator("#threads button", has_text=CLEO)
    cleo.click()
    gate = page.locator("#reply-gate")
    sync_api.expect(gate).to_contain_text("suppressed")
    sync_api.expect(gate).to_contain_text("STOP")
    sync_api.expect(page.get_by_label(f"Reply to {CLEO}")).to_be_disabled()
    sync_api.expect(page.get_by_role("button", name="Send reply")).to_be_disabled()
    _shot(page, "suppressed")


def test_a_call_is_claimed_and_booked_and_the_lease_follows_the_rule(
    scene: Scene, page: Any
) -> None:
    page.get_by_role("link", name="Call queue").click()
    page.get_by_label("Your name").fill("Sam")
    page.get_by_role("button", name="Claim next call").click()
    lease = page.locator("#lease")
    sync_api.expect(lease).to_contain_text(POOL)
    tomorrow = datetime.now(ZoneInfo(AGENT_ZONE)).date() + timedelta(days=1)
    appointment = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0,
                           tzinfo=ZoneInfo(AGENT_ZONE))  # fmt: skip
    page.get_by_role("radio", name="booked").check()
    page.get_by_label("Appointment (when booked)").fill(appointment.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Record outcome").click()
    release = page.locator("#release")
    sync_api.expect(release).to_contain_text("held until")
    release_at = datetime.fromisoformat(release.get_attribute("data-release-at"))
    # seed 001: a booked appointment holds the number until 24 hours after it
    assert release_at == appointment + timedelta(hours=24)
    _shot(page, "call-queue")


def test_pools_and_campaigns_show_and_fit_a_phone(scene: Scene, page: Any) -> None:
    page.get_by_role("link", name="Pools").click()
    sync_api.expect(page.locator("#pool-health")).to_contain_text(POOL)
    sync_api.expect(page.locator("#leases")).to_contain_text(POOL)
    page.get_by_role("link", name="Campaigns").click()
    card = page.locator(f"[data-campaign-id='{scene.campaign_id}']")
    card.get_by_role("button", name="Pause Spring outreach").click()
    sync_api.expect(card.locator(".meta strong")).to_have_text("paused")
    page.locator(f"[data-campaign-id='{scene.campaign_id}']").get_by_role(
        "button", name="Resume Spring outreach"
    ).click()
    sync_api.expect(
        page.locator(f"[data-campaign-id='{scene.campaign_id}'] .meta strong")
    ).to_have_text("active")
    page.set_viewport_size({"width": 375, "height": 800})
    for section in ("#campaigns", "#pools", "#calls", "#inbox"):
        page.evaluate(f"location.hash = '{section}'")
        sync_api.expect(page.locator(section)).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{section} is {width} px wide at 375"
    _shot(page, "inbox-375")


# The composer's count is a port of tether.domain.segments: the two must agree on every
# text, GSM-7 basic and extended, any Unicode, emoji across part boundaries.
GSM = sorted(GSM7_BASIC | GSM7_EXTENDED)
BODIES = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM),
        st.sampled_from(["€", "{", "é", "—", "😀", "𝄞", "ñ", "\n"]),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=400,
)
EDGES = [
    "", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "€" * 80, "a" * 152 + "€" + "a",
    "é" * 70, "—" * 70, "—" * 71, "😀" * 35, "😀" * 36, "a" * 66 + "😀" + "a" * 10,
]  # fmt: skip


def _js_counts(page: Any, bodies: list[str]) -> list[dict[str, Any]]:
    counts: list[dict[str, Any]] = page.evaluate(
        "async (bodies) => { const m = await import('./js/segments.js');"
        " return bodies.map((b) => m.countSegments(b)); }",
        bodies,
    )
    return counts


def _python_counts(bodies: list[str]) -> list[dict[str, Any]]:
    return [
        {"encoding": c.encoding, "segments": c.segments, "units": c.units}
        for c in map(count_segments, bodies)
    ]


def test_the_segment_count_port_agrees_at_the_edges(page: Any) -> None:
    assert _js_counts(page, EDGES) == _python_counts(EDGES)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bodies=st.lists(BODIES, min_size=1, max_size=40))
def test_the_segment_count_port_agrees_with_python(page: Any, bodies: list[str]) -> None:
    assert _js_counts(page, bodies) == _python_counts(bodies)
