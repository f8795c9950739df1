"""Which secret references a tenant may read (tether.secrets.check_reference): only
names under its own path in this stage; `local:` values only on the local stage."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.secrets import (
    PREVIOUS_VERSION,
    SecretLocation,
    SecretRefused,
    check_reference,
    secret_name,
)

A = uuid.UUID("11111111-1111-4111-8111-111111111111")
B = uuid.UUID("22222222-2222-4222-8222-222222222222")
ACCOUNT = uuid.UUID("33333333-3333-4333-8333-333333333333")
OWN = secret_name("prod", B, ACCOUNT, "credentials")
THEIRS = secret_name("prod", A, ACCOUNT, "credentials")


def test_a_tenant_reads_its_own_names_and_the_rotated_signing_secret() -> None:
    assert check_reference(OWN, B, "prod") == SecretLocation(OWN, previous=False)
    signing = secret_name("prod", B, ACCOUNT, "signing-secret")
    assert check_reference(signing + PREVIOUS_VERSION, B, "prod") == SecretLocation(
        signing, previous=True
    )


@pytest.mark.parametrize(
    "ref",
    [
        # another tenant's secret by name, by full ARN, by partial ARN (no random suffix)
        THEIRS,
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{THEIRS}-AbCdEf",
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{THEIRS}",
        # even the tenant's own secret by ARN: Tether stores names, never ARNs
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{OWN}-AbCdEf",
        # path traversal out of the own path, and into it from elsewhere
        f"tether/prod/tenants/{B}/../{A}/provider-accounts/{ACCOUNT}/credentials",
        f"tether/prod/tenants/{B}/provider-accounts/../../{A}/provider-accounts/{ACCOUNT}/credentials",
        # the own path in another stage, or with anything around it
        secret_name("dev", B, ACCOUNT, "credentials"),
        OWN + "-AbCdEf",
        OWN + "/",
        "/" + OWN,
        OWN + "\n",
        OWN + "#AWSCURRENT",
        OWN.upper(),
        f"tether/prod/tenants/{B}/provider-accounts/{ACCOUNT}/other",
        f"tether/prod/tenants/{B}/",
        "tether/prod/db-credentials",
        "",
    ],
)
def test_anything_outside_the_own_path_is_refused(ref: str) -> None:
    with pytest.raises(SecretRefused):
        check_reference(ref, B, "prod")


def test_local_values_only_on_the_local_stage() -> None:
    assert check_reference("local:s3cr3t", B, "local") == "s3cr3t"
    for stage in ("dev", "prod", ""):
        with pytest.raises(SecretRefused):
            check_reference("local:s3cr3t", B, stage)


@given(
    owner=st.uuids(),
    other=st.uuids(),
    same_tenant=st.booleans(),
    account=st.uuids(),
    stage=st.sampled_from(["dev", "prod", "local"]),
    caller_stage=st.sampled_from(["dev", "prod", "local"]),
    kind=st.sampled_from(["credentials", "signing-secret"]),
    prefix=st.sampled_from(["", "arn:aws:secretsmanager:us-east-1:123456789012:secret:"]),
    suffix=st.sampled_from(["", "-AbCdEf", PREVIOUS_VERSION, "/..", "%2F"]),
)
def test_a_reference_is_readable_only_by_its_tenant_in_its_stage(
    owner: uuid.UUID,
    other: uuid.UUID,
    same_tenant: bool,
    account: uuid.UUID,
    stage: str,
    caller_stage: str,
    kind: str,
    prefix: str,
    suffix: str,
) -> None:
    caller = owner if same_tenant else other
    ref = prefix + secret_name(stage, owner, account, kind) + suffix  # type: ignore[arg-type]
    readable = (
        caller == owner
        and caller_stage == stage
        and prefix == ""
        and suffix in ("", PREVIOUS_VERSION)
    )
    if readable:
        assert isinstance(check_reference(ref, caller, caller_stage), SecretLocation)
    else:
        with pytest.raises(SecretRefused):
            check_reference(ref, caller, caller_stage)


@given(st.text(max_size=300))
def test_arbitrary_text_is_never_read_as_another_tenants_secret(ref: str) -> None:
    try:
        where = check_reference(ref, B, "prod")
    except SecretRefused:
        return
    assert isinstance(where, SecretLocation)
    assert where.name.startswith(f"tether/prod/tenants/{B}/provider-accounts/")
