"""The pure parts of issue 15's delivery work: where a send asks for its status
callbacks, and how a failed send's stored code becomes a kind a campaign owner reads."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from tether.domain.stats import (
    FailureKind,
    SendOutcomes,
    add_outcomes,
    failure_kind,
    rate,
)
from tether.domain.status_callbacks import status_callback_url
from tether.providers.base import ProviderErrorKind
from tether.providers.factory import PROVIDERS, classify_error


@given(
    base=st.sampled_from(
        ["https://abc.execute-api.us-east-1.amazonaws.com/dev", "http://127.0.0.1:3000"]
    ),
    slash=st.booleans(),
    provider=st.sampled_from(PROVIDERS),
    account=st.uuids(),
)
def test_the_callback_is_the_accounts_webhook_under_the_base(
    base: str, slash: bool, provider: str, account: uuid.UUID
) -> None:
    url = status_callback_url(base + ("/" if slash else ""), provider, account)
    assert url == f"{base}/webhooks/{provider}/{account}"
    assert urlsplit(url).path.endswith(f"/webhooks/{provider}/{account}")


def test_every_provider_error_kind_has_a_failure_kind_and_tethers_refusals_theirs() -> None:
    for kind in ProviderErrorKind:
        assert failure_kind("X1", kind.value) is not FailureKind.UNKNOWN
        assert failure_kind(kind.value, None) is failure_kind("X1", kind.value)
    assert failure_kind("suppressed", None) is FailureKind.OPT_OUT
    assert failure_kind("lead_suppressed", None) is FailureKind.OPT_OUT
    assert failure_kind("lead_closed", None) is FailureKind.NOT_SENT
    assert failure_kind("expired", None) is FailureKind.NOT_SENT
    assert failure_kind("quiet_hours", None) is FailureKind.NOT_SENT
    assert failure_kind(None, None) is FailureKind.UNKNOWN
    # a provider's own code, through the provider's table
    assert failure_kind("30007", classify_error("twilio", "30007").value) is (
        FailureKind.CARRIER_FILTERED
    )
    assert failure_kind("21610", classify_error("twilio", "21610").value) is FailureKind.OPT_OUT
    assert failure_kind("40300", classify_error("telnyx", "40300").value) is FailureKind.OPT_OUT


outcome_rows = st.lists(
    st.tuples(
        st.integers(1, 50),
        st.booleans(),
        st.sampled_from(["queued", "sending", "sent", "delivered", "read", "failed", "undelivered", "canceled"]),
        st.sampled_from(list(FailureKind)),
    ),
    max_size=30,
)  # fmt: skip


@given(rows=outcome_rows)
def test_every_send_is_counted_once_as_delivered_failed_waiting_or_sent(
    rows: list[tuple[int, bool, str, FailureKind]],
) -> None:
    total = SendOutcomes()
    for count, accepted, status, kind in rows:
        failed = status in ("failed", "undelivered", "canceled")
        total = add_outcomes(
            total, count, accepted=accepted, status=status, failure=kind if failed else None
        )
    assert total.requested == sum(c for c, *_ in rows)
    assert total.failed == sum(total.failed_by_kind.values())
    # every send ended failed, or is accepted, or waits; none is two of the last two
    assert total.waiting + total.sent + sum(
        c for c, accepted, status, _ in rows if status in ("failed", "undelivered", "canceled") and not accepted
    ) == total.requested  # fmt: skip
    assert total.delivered <= total.requested
    assert rate(total.failed, total.requested) == (
        round(total.failed / total.requested, 4) if total.requested else None
    )
