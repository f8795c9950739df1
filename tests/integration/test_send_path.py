"""The one send path: a lone API send and a batch as the timers store it (store_sends
in one transaction) bind the same leads to the same numbers and refuse the same sends
with the same errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support.factories import make_campaign, make_lead, make_tenant
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import TetherError
from tether.services.numbers import NumberRow, register_numbers, retire_number, stage_campaign
from tether.services.outbound import SendRefused, SendRequest, request_send, store_sends

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
POOL = "Outreach"
NUMBERS = ["+14155550100", "+12125550100", "+13105550100"]
LEADS = ["+14155550123", "+12125550124", "+17185550125", "+14155550126", "+16465550127",
         "+13105550128", "+15035550129", "+14155550130", "+12065550131", "+12125550132"]  # fmt: skip


class World:
    """A tenant with a staged campaign on three numbers, an unstaged one, ten leads, and
    one lead bound to a number that was then retired."""

    def __init__(self, admin: Connection, app: FreshConnections) -> None:
        self.app = app
        self.tenant_id, account_id = make_tenant(admin)
        register_numbers(
            self.uow(), self.tenant_id, account_id, POOL, [NumberRow(n) for n in NUMBERS]
        )
        self.campaign_id = make_campaign(admin, self.tenant_id, POOL)
        stage_campaign(self.uow(), self.campaign_id, NOW, rotation_numbers=2)
        self.unstaged = make_campaign(admin, self.tenant_id, "Empty pool")
        self.leads = [make_lead(admin, self.tenant_id, phone, self.campaign_id) for phone in LEADS]
        self.stranded = make_lead(admin, self.tenant_id, "+14155550199", self.campaign_id)
        self.missing = uuid.uuid4()
        first = request_send(self.uow(), self.request(self.stranded, key="first"), NOW)
        number = admin.execute(
            "SELECT id FROM phone_numbers WHERE tenant_id = %s AND e164 = %s",
            (self.tenant_id, first.from_number),
        ).fetchone()
        assert number is not None
        retire_number(self.uow(), number["id"], NOW)
        self.retired = first.from_number

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.app, self.tenant_id)

    def request(
        self, lead_id: uuid.UUID, campaign_id: uuid.UUID | None = None, key: str = "t"
    ) -> SendRequest:
        return SendRequest(
            tenant_id=self.tenant_id,
            campaign_id=campaign_id or self.campaign_id,
            lead_id=lead_id,
            body="Hi",
            send_key=f"{key}:{lead_id}",
        )

    def named(self, answers: list[str]) -> list[str]:
        """The answers with this world's ids put as names, to compare with another's."""
        names = {self.campaign_id: "campaign", self.unstaged: "unstaged", self.missing: "missing"}
        names |= {lead: f"lead{index}" for index, lead in enumerate(self.leads)}
        names[self.stranded] = "stranded"
        for key, name in names.items():
            answers = [answer.replace(str(key), name) for answer in answers]
        return answers

    def asks(self) -> list[SendRequest]:
        missing = self.missing
        return [
            *(self.request(lead) for lead in self.leads),
            self.request(self.leads[0], self.unstaged, key="unstaged"),
            self.request(self.stranded),
            self.request(missing),
            self.request(self.leads[1], key="first").model_copy(
                update={"send_key": f"first:{self.stranded}"}
            ),  # another lead's key
        ]


def one_by_one(world: World) -> list[str]:
    """What the API answers, a request at a time."""
    answers = []
    for ask in world.asks():
        try:
            answers.append(request_send(world.uow(), ask, NOW).from_number)
        except TetherError as error:
            answers.append(f"{type(error).__name__}: {error}")
    return world.named(answers)


def batched(world: World) -> list[str]:
    """What the timers' batch stores, all requests in one transaction."""
    with world.uow() as uow:
        results = store_sends(uow, world.asks(), NOW)
        uow.commit()
    return world.named(
        [
            f"{type(r.error).__name__}: {r.error}" if isinstance(r, SendRefused) else r.from_number
            for r in results
        ]
    )


@pytest.fixture
def worlds(admin: Connection, app_connections: FreshConnections) -> tuple[World, World]:
    return World(admin, app_connections), World(admin, app_connections)


def test_a_batch_binds_and_refuses_exactly_as_lone_sends_do(worlds: tuple[World, World]) -> None:
    api, timers = worlds
    lone, batch = one_by_one(api), batched(timers)
    assert lone == batch
    sent, refused = lone[: len(LEADS)], lone[len(LEADS) :]
    assert api.retired == "+14155550100"  # the stranded lead's, by its area code
    assert set(sent) == set(NUMBERS) - {api.retired}  # spread over the numbers left
    assert {a for a, phone in zip(sent, LEADS, strict=True) if phone.startswith("+1212")} == {
        "+12125550100"
    }  # area code first
    assert refused == [
        "SenderUnavailable: campaign unstaged has no active number: stage it first",
        f"SenderUnavailable: lead stranded is bound to {api.retired}, which is retired;"
        " re-home the lead first",
        "NotFound: lead missing not found",
        "Conflict: this send key was already used for another lead or campaign; choose another key",
    ]
    # asked again, both answer the stored sends
    assert one_by_one(api)[: len(LEADS)] == batched(timers)[: len(LEADS)] == sent
