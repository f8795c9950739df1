"""The short soak (`make soak` is the full one): the local stack as four processes,
two tenants' day under kill -9 of the functions, a PostgreSQL restart, provider, SQS
and webhook faults, then the end state checked. One test, in one xdist worker (the
file is its unit of distribution), on a seed of its own each run: a failure prints the
seed, and `make soak SEED=n ARGS=--short` replays it."""

from __future__ import annotations

import os
import random

from tether_dev.soak import MUST_BE_ZERO, SHORT, run_soak


def test_short_soak_loses_doubles_and_strands_nothing() -> None:
    seed = int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(1_000_000))
    said: list[str] = []
    result = run_soak(seed, SHORT, say=said.append)

    broken = {name: result[name] for name in MUST_BE_ZERO if result.get(name)}
    if not result["settled"]:
        broken["settled"] = False
    assert not broken, f"seed {seed}: {broken}\n{result}\n" + "\n".join(said)
    # the run did what it is for: sends went out and every kind of fault landed
    for count in ("texts_at_provider", "webhooks", "events"):
        assert result[count] > 0, (count, result)
    for kind in ("kill9", "postgres_restart", "duplicate_webhook", "late_status", "sqs_send"):
        assert result[f"faults_{kind}"] > 0, (kind, result)
