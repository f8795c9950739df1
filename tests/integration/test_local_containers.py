"""The local stack's containers (`--concurrency N`): functions run in processes of their
own, several at once, each in its own environment; an exception comes back as the
invocation's error, and a container that dies mid-invocation fails that invocation
only and is replaced. Integration tier: real processes import code from disk."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tether_dev.local.containers import ContainerPool, ContainerSetup
from tether_dev.local.runtime import RemoteError
from tether_dev.local.template import Stack, load_template, read_stack

TEMPLATE = """
Resources:
  MeetFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/meet/
      Handler: app.handler
      Timeout: 30
      Environment: {Variables: {MEET_ONLY: meet}}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/other/
      Handler: app.handler
      Timeout: 30
      Environment: {Variables: {OTHER_ONLY: other}}
"""

# Each invocation leaves its mark in a folder, then waits (10 s at most) for as many
# marks as the event asks: invocations that run one at a time never all meet.
MEET = """
import os, time
from pathlib import Path

def handler(event, context):
    if event.get("fail"):
        raise KeyError("asked to fail")
    if event.get("die"):
        os._exit(9)
    folder = Path(event["folder"])
    (folder / context.aws_request_id).touch()
    deadline = time.monotonic() + 10
    while len(list(folder.iterdir())) < event["expect"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return {
        "met": len(list(folder.iterdir())) >= event["expect"],
        "pid": os.getpid(),
        "meet": os.environ.get("MEET_ONLY"),
        "other": os.environ.get("OTHER_ONLY"),
    }
"""

OTHER = """
import os

def handler(event, context):
    return {"meet": os.environ.get("MEET_ONLY"), "other": os.environ.get("OTHER_ONLY")}
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Stack, Path]:
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    for folder, code in (("meet", MEET), ("other", OTHER)):
        (tmp_path / "functions" / folder).mkdir(parents=True)
        (tmp_path / "functions" / folder / "app.py").write_text(textwrap.dedent(code))
    return read_stack(load_template(tmp_path / "template.yaml"), lambda name: name), tmp_path


@pytest.fixture
def pool(project: tuple[Stack, Path]) -> Iterator[ContainerPool]:
    stack, root = project
    started = ContainerPool(stack, root, {}, 3, ContainerSetup(log_level="WARNING")).start()
    yield started
    started.close()


def test_invocations_run_at_once_each_in_a_container_of_its_own(
    project: tuple[Stack, Path], pool: ContainerPool, tmp_path: Path
) -> None:
    stack, _ = project
    folder = tmp_path / "marks"
    folder.mkdir()
    meet = stack.function("meet")
    with ThreadPoolExecutor(3) as threads:
        runs = list(
            threads.map(
                lambda n: pool.invoke(meet, {"folder": str(folder), "expect": 3}, f"r{n}"),
                range(3),
            )
        )
    assert [run.failed for run in runs] == [False] * 3
    assert all(run.result["met"] for run in runs)
    assert len({run.result["pid"] for run in runs}) == 3
    assert os.getpid() not in {run.result["pid"] for run in runs}
    assert {(run.result["meet"], run.result["other"]) for run in runs} == {("meet", None)}


def test_each_function_sees_its_own_variables_in_a_shared_container(
    project: tuple[Stack, Path], pool: ContainerPool, tmp_path: Path
) -> None:
    stack, _ = project
    for _ in range(pool.size):  # every container has run the other function before
        assert pool.invoke(stack.function("other"), {}).result == {
            "meet": None,
            "other": "other",
        }
    run = pool.invoke(stack.function("meet"), {"folder": str(tmp_path), "expect": 0})
    assert (run.result["meet"], run.result["other"]) == ("meet", None)


def test_an_exception_comes_back_as_the_invocations_error(
    project: tuple[Stack, Path], pool: ContainerPool
) -> None:
    stack, _ = project
    run = pool.invoke(stack.function("meet"), {"fail": True})
    assert run.failed
    assert isinstance(run.error, RemoteError)
    payload = run.error_payload()
    assert payload["errorType"] == "KeyError"
    assert "asked to fail" in payload["errorMessage"]
    assert any("raise KeyError" in line for line in payload["stackTrace"])


def test_a_container_that_dies_fails_its_invocation_only_and_is_replaced(
    project: tuple[Stack, Path], pool: ContainerPool, tmp_path: Path
) -> None:
    stack, _ = project
    meet = stack.function("meet")
    died = pool.invoke(meet, {"die": True})
    assert died.failed
    assert died.error_payload()["errorType"] == "ContainerExited"
    folder = tmp_path / "after"
    folder.mkdir()
    with ThreadPoolExecutor(3) as threads:
        runs = list(
            threads.map(
                lambda n: pool.invoke(meet, {"folder": str(folder), "expect": 3}, f"a{n}"),
                range(3),
            )
        )
    assert all(run.result["met"] for run in runs)  # still three containers
