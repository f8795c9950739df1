"""Lambda's concurrency, locally: a pool of containers.

Each container is a process of its own that imports the functions once and runs one
invocation at a time, as a Lambda execution environment does, with its own connections
and clients. The pool hands an invocation to the first idle container, so the local
stack runs as many at once as it has containers: a queue read by several pollers, a
webhook arriving while a batch of sends goes out. Without a pool (`--concurrency 1`)
the functions run in the stack's own process, one at a time (`runtime.FunctionRunner`).

A container that dies mid-invocation (a crash, an out-of-memory kill) fails that
invocation and is replaced, as Lambda replaces an environment. A container whose
stack process is gone (kill -9) exits at once: nobody is left to take its answer.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import FunctionRunner, Invocation, RemoteError
from tether_dev.local.template import Function, Stack

READY_TIMEOUT_SECONDS = 120.0
ORPHAN_CHECK_SECONDS = 0.2


@dataclass(frozen=True)
class ContainerSetup:
    """What a container sets up before it takes invocations, besides the functions'
    environment: its logs as the stack's, and the stack's injected faults (each
    container draws its own, from the stack's seed)."""

    log_level: str = "INFO"
    json_logs: bool = False
    sqs_send_failure_rate: float = 0.0
    fault_seed: int = 0


class _Container:
    def __init__(self, process: multiprocessing.process.BaseProcess, link: Connection) -> None:
        self.process = process
        self.link = link

    def close(self, timeout: float) -> None:
        with contextlib.suppress(OSError, ValueError):  # already gone
            self.link.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.link.close()


class ContainerPool:
    """`size` containers; `invoke` is `FunctionRunner.invoke`'s, callable from any thread."""

    def __init__(
        self,
        stack: Stack,
        project_root: Path,
        base_environment: dict[str, str],
        size: int,
        setup: ContainerSetup,
    ) -> None:
        if size < 1:
            raise ValueError("a container pool has at least one container")
        self.size = size
        self._stack = stack
        self._root = project_root
        self._base = dict(base_environment)
        self._setup = setup
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._idle: queue.Queue[_Container] = queue.Queue()
        self._all: list[_Container] = []
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def start(self) -> ContainerPool:
        """Start every container and wait until each has imported the functions."""
        starting = [self._spawn() for _ in range(self.size)]
        for container in starting:
            self._await_ready(container)
            self._idle.put(container)
        return self

    def invoke(self, function: Function, event: Any, request_id: str | None = None) -> Invocation:
        container = self._idle.get()
        started = time.monotonic()
        try:
            container.link.send((function.logical_id, event, request_id or str(uuid.uuid4())))
            answer = container.link.recv()
        except (EOFError, OSError) as lost:
            replacement = self._replace(container)
            if replacement is not None:
                self._idle.put(replacement)
            return Invocation(
                function.name,
                None,
                RemoteError("ContainerExited", f"the container exited mid-invocation: {lost!r}"),
                (time.monotonic() - started) * 1000,
                False,
            )
        self._idle.put(container)
        result, failure, duration_ms, timed_out = answer
        return Invocation(function.name, result, failure, duration_ms, timed_out)

    def close(self, timeout: float = 35.0) -> None:
        """Each container finishes the invocation it runs, then exits."""
        with self._lock:
            self._closed = True
            containers, self._all = self._all, []
        for container in containers:
            container.close(timeout)

    # -- containers -----------------------------------------------------------------

    def _spawn(self) -> _Container:
        with self._lock:
            self._started += 1
            index = self._started
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(theirs, self._stack, self._root, self._base, self._setup, index, os.getpid()),
            name=f"tether-container-{index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        container = _Container(process, ours)
        with self._lock:
            self._all.append(container)
        return container

    def _await_ready(self, container: _Container) -> None:
        if not container.link.poll(READY_TIMEOUT_SECONDS):
            raise RuntimeError(f"{container.process.name} did not start")
        ready = container.link.recv()
        if ready != "ready":
            raise RuntimeError(f"{container.process.name} did not start: {ready}")

    def _replace(self, dead: _Container) -> _Container | None:
        with self._lock:
            if dead in self._all:
                self._all.remove(dead)
            closed = self._closed
        dead.link.close()
        dead.process.join(5)
        stack_logger().error(
            "container exited mid-invocation; replaced",
            extra={"container": dead.process.name, "exitcode": dead.process.exitcode},
        )
        if closed:
            return None
        fresh = self._spawn()
        self._await_ready(fresh)
        return fresh


def serve(
    link: Connection,
    stack: Stack,
    project_root: Path,
    base_environment: dict[str, str],
    setup: ContainerSetup,
    index: int,
    stack_pid: int,
) -> None:
    """A container's life: set up, import the functions, then run what comes until the
    pool says stop (None) or the stack process is gone."""
    # the stack process decides when a container stops (Ctrl-C reaches the whole group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(stack_pid,), daemon=True).start()
    try:
        _set_up(setup, index)
        runner = FunctionRunner(stack, project_root, base_environment)
        runner.warm()
    except Exception as error:  # said to the pool, which does not start without it
        link.send(f"{type(error).__name__}: {error}")
        return
    link.send("ready")
    while True:
        try:
            asked = link.recv()
        except EOFError:
            return
        if asked is None:
            return
        logical_id, event, request_id = asked
        invocation = runner.invoke(stack.function(logical_id), event, request_id)
        link.send(
            (
                invocation.result,
                _portable(invocation.error),
                invocation.duration_ms,
                invocation.timed_out,
            )
        )


def _set_up(setup: ContainerSetup, index: int) -> None:
    from tether.observability import logger
    from tether_dev.local.faults import SqsSendFaults
    from tether_dev.local.logs import use_terminal_logs

    if setup.json_logs:
        logger.setLevel(setup.log_level)
    else:
        use_terminal_logs(setup.log_level)
    if setup.sqs_send_failure_rate:
        SqsSendFaults(setup.sqs_send_failure_rate, setup.fault_seed * 100 + index).install()


def _portable(error: BaseException | None) -> RemoteError | None:
    """The exception as the pool's process can unpickle it, whatever its class."""
    if error is None:
        return None
    return RemoteError(type(error).__name__, str(error), traceback.format_exception(error)[-4:])


def _exit_when_orphaned(stack_pid: int) -> None:
    while os.getppid() == stack_pid:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(137)  # the stack process is gone: cut wherever this container was
