"""`make deploy-check`: the real template, built and deployed into an AWS emulator
(ministack: the SAM transform, CloudFormation, API Gateway, Lambda, SQS, EventBridge,
DynamoDB and Secrets Manager, without Docker), then the demo scenario through the
emulator's API Gateway against the embedded PostgreSQL.

What differs from AWS, on purpose: the functions are built for this machine's
architecture in a copy of the template (the emulator runs them on its own Python; the
shipped template stays arm64); the database is the embedded server's Unix socket with
`DbSslMode=disable`, standing in for RDS Proxy; the functions run as stage `local`
(the demo's sandbox provider is refused in any other); no concurrency is reserved
(the emulator's SQS poller cannot read the reservation); VPC placement and IAM policies are
accepted but not enforced by the emulator. Nothing is patched after the deploy: a route
the template does not carry fails the check before anything else runs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.config import PROJECT_ROOT
from tether_dev.local.aws import claim_port
from tether_dev.local.events import match_route
from tether_dev.local.template import REGION, Route, api_routes, load_template, sam_transform

STACK_NAME = "tether-deploy-check"
STAGE = "dev"
DATABASE = "tether_deploy_check"
WORK_DIR = PROJECT_ROOT / ".aws-sam" / "deploy-check"
EMULATOR = PROJECT_ROOT / ".venv-ministack" / "bin" / "ministack"
READY_SECONDS = 30.0
# what `aws` and boto3 need to talk to the emulator (it takes any credentials)
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class DeployCheckFailed(Exception):
    pass


@dataclass
class DeployReport:
    seconds: dict[str, float] = field(default_factory=dict)  # step: duration
    resources: list[tuple[str, str]] = field(default_factory=list)  # (logical id, type)
    routes: list[str] = field(default_factory=list)


def host_architecture() -> str:
    """Lambda's name for this machine's architecture."""
    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


def host_template(template: str, architecture: str) -> str:
    """The template for `architecture` on the emulator: the architecture lines change,
    and the functions' stage is `local`, because the demo sends through the sandbox
    provider, which any other stage refuses (and the template's `Stage` cannot be)."""
    lines = []
    for line in template.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(
            ("Architectures:", "CompatibleArchitectures:", "BuildArchitecture:")
        ):
            line = line.replace("arm64", architecture)
        elif stripped == "TETHER_STAGE: !Ref Stage":
            line = line.replace("!Ref Stage", "local")
        lines.append(line)
    return "".join(lines)


def run_deploy_check(say: Callable[[str], None] = print) -> DeployReport:
    """Build, deploy, check the routes and the stack's events, run the demo."""
    from tether_dev.scratch import scratch_database

    report = DeployReport()
    started = time.monotonic()
    clock = [started]

    def done(step: str) -> None:
        now = time.monotonic()
        report.seconds[step] = now - clock[0]
        clock[0] = now
        say(f"   {step}: {report.seconds[step]:.1f}s")

    with ExitStack() as cleanup:
        say("== sam build for this machine's architecture (a copy of the template)")
        built = build(host_architecture())
        say(
            f"   the layer's {check_layer_bytecode(built.parent / 'SharedLayer')} modules"
            " ship their Python 3.12 bytecode"
        )
        done("build")

        say("== the emulator, and what a user creates before deploying")
        endpoint = cleanup.enter_context(emulator())
        aws = _Aws(endpoint)
        database_url = cleanup.enter_context(scratch_database(DATABASE, migrate=False))
        # the emulator's API has no public host name for providers' status callbacks:
        # the stack is deployed with a PublicApiUrl (as a custom domain would be), here a
        # forwarder to the emulator's gateway once the API exists
        public_api = cleanup.enter_context(forwarder())
        parameters = {**prerequisites(aws, database_url), "PublicApiUrl": public_api.url}
        done("emulator and prerequisites")

        say(f"== sam deploy of {built.relative_to(PROJECT_ROOT)} into the emulator")
        deploy(built, endpoint, aws, parameters)
        report.resources = check_events_and_resources(aws)
        done("deploy")

        say("== the routes, before anything else")
        api_id = check_routes(aws, report)
        say(
            f"   {len(report.routes)} routes of the code reach their functions, and the mocks exist"
        )
        done("routes")

        gateway_url = f"{endpoint}/_aws/execute-api/{api_id}/{STAGE}"
        public_api.target = gateway_url
        check_health(gateway_url, say)
        check_console(gateway_url, say)

        say("== migrations through the deployed migrate function")
        migrated = aws.invoke(aws.function_name("MigrateFunction"), {})
        say(f"   {json.dumps(migrated)[:200]}")
        done("migrate")

        say("== infra/database.yaml, less the RDS Proxy the emulator does not know")
        database_resources = deploy_database_template(aws)
        say(f"   {len(database_resources)} resources created, every event CREATE_COMPLETE")
        done("database template")

        say("== the demo, through the emulator's API Gateway")
        run_demo_against(cleanup, aws, endpoint, gateway_url, database_url, say)
        done("demo")

    total = time.monotonic() - started
    report.seconds["total"] = total
    say(f"\ndeploy-check passed in {total:.1f}s; {len(report.resources)} resources created:")
    for logical_id, kind in report.resources:
        say(f"   {kind:<40} {logical_id}")
    return report


# -- build -------------------------------------------------------------------------

# Resource types of template.yaml that ministack (1.5.33) refuses as "Unrecognized
# resource types": the WebSocket API's deployment and route responses. The check
# deploys that API without them, its stage deploying itself (AutoDeploy) instead.
EMULATOR_UNKNOWN_APP_TYPES = frozenset(
    {"AWS::ApiGatewayV2::Deployment", "AWS::ApiGatewayV2::RouteResponse"}
)


def emulated_app_template(document: Mapping[str, Any]) -> dict[str, Any]:
    """template.yaml less what the emulator does not know, and nothing naming it."""
    template: dict[str, Any] = json.loads(json.dumps(document))
    resources: dict[str, Any] = template["Resources"]
    dropped = {n for n, r in resources.items() if r["Type"] in EMULATOR_UNKNOWN_APP_TYPES}
    for name in dropped:
        del resources[name]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if depends is not None:
            named = [depends] if isinstance(depends, str) else depends
            kept = [d for d in named if d not in dropped]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
        props = resource.get("Properties") or {}
        if (props.get("DeploymentId") or {}).get("Ref") in dropped:
            del props["DeploymentId"]
            props["AutoDeploy"] = True
    return template


def build(architecture: str) -> Path:
    """`sam build` of the template for `architecture`; the built template's path."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    copy = WORK_DIR / "template.yaml"
    copy.write_text(host_template((PROJECT_ROOT / "template.yaml").read_text(), architecture))
    # JSON is YAML: the adjusted copy is written in CloudFormation's long forms
    copy.write_text(json.dumps(emulated_app_template(load_template(copy)), indent=1))
    build_dir = WORK_DIR / "build"
    _run(
        [
            str(Path(sys.executable).parent / "sam"),
            "build",
            "--template-file",
            str(copy),
            "--base-dir",
            str(PROJECT_ROOT),
            "--build-dir",
            str(build_dir),
            "--cached",
            "--cache-dir",
            str(WORK_DIR / "cache"),
        ],
        "sam build",
        # the shared layer's Makefile installs wheels for this (SAM does not pass it on)
        env={"LAYER_ARCHITECTURE": architecture},
    )
    return build_dir / "template.yaml"


def check_layer_bytecode(layer: Path) -> int:
    """Every module of the built layer has its Python 3.12 bytecode beside it, checked
    by nothing (Lambda's /opt is read-only: a module without it is compiled on every cold
    start, and the zip's timestamps must not make Python recompile one); their number."""
    sources = sorted((layer / "python").rglob("*.py"))
    missing = []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        # the flags word after the magic number: 0b01 is hash-based and unchecked (PEP 552)
        if not compiled.is_file() or compiled.read_bytes()[4:8] != b"\x01\0\0\0":
            missing.append(str(source.relative_to(layer)))
    if not sources or missing:
        raise DeployCheckFailed(
            f"the layer ships {len(missing)} of {len(sources)} modules without unchecked"
            f" Python 3.12 bytecode: {missing[:5]}"
        )
    return len(sources)


# -- the public URL ---------------------------------------------------------------------


@dataclass
class _Forwarder:
    url: str
    target: str = ""  # the gateway's URL (with its stage) once the API exists


@contextmanager
def forwarder() -> Iterator[_Forwarder]:
    """An HTTP forwarder standing in for a custom domain in front of the API: a request
    to `url` + path goes to `target` + path, method, headers and body as they came."""
    import http.server
    import threading
    import urllib.error
    import urllib.request

    port = claim_port("127.0.0.1", 0)
    public = _Forwarder(f"http://127.0.0.1:{port}/{STAGE}")

    class Forward(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            prefix = f"/{STAGE}"
            path = self.path[len(prefix) :] if self.path.startswith(prefix) else self.path
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            request = urllib.request.Request(  # noqa: S310 - the emulator's gateway
                public.target + path, data=body, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                    status, payload, kind = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as error:
                status, payload, kind = error.code, error.read(), error.headers
            except OSError:
                status, payload, kind = 502, b"", None
            self.send_response(status)
            self.send_header("Content-Type", (kind or {}).get("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Forward)
    thread = threading.Thread(target=server.serve_forever, name="public-api", daemon=True)
    thread.start()
    try:
        yield public
    finally:
        server.shutdown()
        server.server_close()


# -- the emulator ----------------------------------------------------------------------


@contextmanager
def emulator() -> Iterator[str]:
    """ministack on a free port, stopped (with its function workers) afterwards. Its
    workers unpack each function and the layer (about 170 MB each) into a temporary
    folder that ministack never removes: the emulator gets a folder of its own, removed
    after it stops (left behind, a few runs filled the disk and the workers failed)."""
    import shutil
    import tempfile

    import urllib3

    if not EMULATOR.exists():
        raise DeployCheckFailed(f"{EMULATOR} is missing: run `make deploy-check`")
    port = claim_port("127.0.0.1", 0)
    scratch = Path(tempfile.mkdtemp(prefix="tether-deploy-check-"))
    log = (WORK_DIR / "ministack.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - the pinned emulator
        [str(EMULATOR)],
        env={
            **os.environ,
            **EMULATOR_CREDENTIALS,
            "GATEWAY_PORT": str(port),
            "MINISTACK_REGION": REGION,
            "TMPDIR": str(scratch),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its group: the workers it spawns stop with it
        cwd=WORK_DIR,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise DeployCheckFailed(f"ministack exited: see {log.name}")
            try:
                urllib3.request("GET", f"{endpoint}/_ministack/health", timeout=1, retries=False)
                break
            except urllib3.exceptions.HTTPError:
                if time.monotonic() > deadline:
                    raise DeployCheckFailed(f"ministack did not answer: see {log.name}") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


class _Aws:
    """boto3 clients for the emulator."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            session = boto3.session.Session(
                aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=REGION,
            )
            self._clients[service] = session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
        return self._clients[service]

    def resources(self, stack: str = STACK_NAME) -> dict[str, dict[str, Any]]:
        found = self.client("cloudformation").describe_stack_resources(StackName=stack)
        return {r["LogicalResourceId"]: r for r in found["StackResources"]}

    def function_name(self, logical_id: str) -> str:
        return str(self.resources()[logical_id]["PhysicalResourceId"])

    def invoke(self, function_name: str, event: Any) -> Any:
        answer = self.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event))
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise DeployCheckFailed(f"{function_name} failed: {payload}")
        return payload


def prerequisites(aws: _Aws, database_url: str) -> dict[str, str]:
    """What the README says to create first, made in the emulator: the network, the
    three database secrets, an artifact bucket. The template's parameters for them."""
    from psycopg.conninfo import conninfo_to_dict

    vpc = aws.client("ec2").create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        aws.client("ec2").create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24")["Subnet"][
            "SubnetId"
        ]
        for n in (1, 2)
    ]
    group = aws.client("ec2").create_security_group(
        GroupName="tether-functions", Description="Tether functions", VpcId=vpc
    )["GroupId"]
    server = conninfo_to_dict(database_url)
    # the embedded server's socket directory stands in for the RDS Proxy endpoint
    host = str(server.get("host") or "127.0.0.1")
    arns = {}
    for role, user in (("Admin", str(server.get("user") or "postgres")),
                       ("App", "tether_app"), ("Jobs", "tether_jobs")):  # fmt: skip
        secret = {"username": user, "password": str(server.get("password") or ""),
                  "dbname": DATABASE}  # fmt: skip
        arns[role] = aws.client("secretsmanager").create_secret(
            Name=f"tether/{STAGE}/db/{role.lower()}", SecretString=json.dumps(secret)
        )["ARN"]
    aws.client("s3").create_bucket(Bucket="tether-deploy-check-artifacts")
    return {
        "Stage": STAGE,
        "DbProxyEndpoint": host,
        "DbPort": str(server.get("port") or 5432),
        "DbName": DATABASE,
        "DbSslMode": "disable",  # a socket: no TLS to ask for (RDS Proxy: require)
        "DbAdminSecretArn": arns["Admin"],
        "DbAppSecretArn": arns["App"],
        "DbJobsSecretArn": arns["Jobs"],
        "SubnetIds": ",".join(subnets),
        "SecurityGroupIds": group,
        # ministack 1.5.33 hands a Number parameter to its SQS poller as a string and
        # its poller fails comparing it ('>=' between int and str), so no function
        # reserves concurrency here; real CloudFormation converts the Number.
        "WebhookReservedConcurrency": "0",
        "InboundReservedConcurrency": "0",
    }


# -- deploy and check --------------------------------------------------------------------


def deploy(built: Path, endpoint: str, aws: _Aws, parameters: Mapping[str, str]) -> None:
    """`sam deploy` of the built template, as a user would run it, at the emulator."""
    _run(
        [
            str(Path(sys.executable).parent / "sam"),
            "deploy",
            "--template-file",
            str(built),
            "--stack-name",
            STACK_NAME,
            "--s3-bucket",
            "tether-deploy-check-artifacts",
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-progressbar",
            "--region",
            REGION,
            "--parameter-overrides",
            *(f"{name}={value}" for name, value in parameters.items()),
        ],
        "sam deploy",
        env={**EMULATOR_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint},
    )


# On the way to CREATE_COMPLETE CloudFormation reports these (a change set is reviewed
# first); any other status (a failure, a rollback, an update, a delete) fails the check.
PASSING_STATUSES = frozenset({"REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS"})


def check_events_and_resources(aws: _Aws, stack: str = STACK_NAME) -> list[tuple[str, str]]:
    """Every stack event is CREATE_COMPLETE (or on its way there) and every resource
    and the stack end CREATE_COMPLETE; the resources created."""
    events = []
    paginator = aws.client("cloudformation").get_paginator("describe_stack_events")
    for page in paginator.paginate(StackName=stack):
        events.extend(page["StackEvents"])
    wrong = [
        f"{e['LogicalResourceId']} ({e['ResourceType']}): {e['ResourceStatus']}"
        f" {e.get('ResourceStatusReason') or ''}".rstrip()
        for e in events
        if e["ResourceStatus"] != "CREATE_COMPLETE" and e["ResourceStatus"] not in PASSING_STATUSES
    ]
    completed = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE"}
    resources = aws.resources(stack)
    unfinished = sorted(({stack} | resources.keys()) - completed)
    if wrong or unfinished:
        raise DeployCheckFailed(
            "the stack did not simply create:\n  "
            + "\n  ".join(wrong + [f"{name}: no CREATE_COMPLETE event" for name in unfinished])
        )
    return sorted((r["LogicalResourceId"], r["ResourceType"]) for r in resources.values())


def code_routes() -> list[tuple[str, str, str]]:
    """(function logical id, method, path) of every route the functions' code serves."""
    from tether.api.resolver import served_routes
    from tether.webhooks.request import VOICE_WEBHOOK_PATH, WEBHOOK_METHOD, WEBHOOK_PATH

    api = [("ApiFunction", method, path) for method, path in served_routes()]
    return [
        *api,
        ("WebhookFunction", WEBHOOK_METHOD, WEBHOOK_PATH),
        ("WebhookFunction", WEBHOOK_METHOD, VOICE_WEBHOOK_PATH),
    ]


def concrete(path: str) -> str:
    """A request path for a route's path: each {parameter} filled in."""
    return re.sub(r"\{(\w+)\+?\}", lambda m: f"x-{m.group(1)}", path)


def check_routes(aws: _Aws, report: DeployReport) -> str:
    """The deployed REST API, read back from the emulator, must hand every route the
    code serves to its function (resource first, then method, as API Gateway picks),
    and carry the template's mocks; the API's id."""
    resources = aws.resources()
    api_id = str(resources["Api"]["PhysicalResourceId"])
    functions = {
        str(r["PhysicalResourceId"]): name
        for name, r in resources.items()
        if r["ResourceType"] == "AWS::Lambda::Function"
    }
    gateway = aws.client("apigateway")
    deployed: list[Route] = []
    for resource in gateway.get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for method in resource.get("resourceMethods") or {}:
            integration = gateway.get_integration(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method
            )
            kind = str(integration.get("type") or "").upper()
            target = re.search(r":function:([^/:]+)", str(integration.get("uri") or ""))
            function = functions.get(target.group(1), "?") if target else "?"
            if kind == "MOCK":
                deployed.append(Route(method, resource["path"], None))
            elif kind == "AWS_PROXY":
                deployed.append(Route(method, resource["path"], function))
    problems = []
    for function, method, path in code_routes():
        match = match_route(deployed, method, concrete(path))
        if match is None or match.route.function != function:
            found = "nothing (403)" if match is None else match.route
            problems.append(f"{method} {path} ({function}) reaches {found}")
        else:
            report.routes.append(f"{method} {path} -> {function}")
    template = api_routes(sam_transform(load_template(PROJECT_ROOT / "template.yaml")))
    for mock in (r for r in template if r.function is None):
        if Route(mock.method, mock.path, None) not in deployed:
            problems.append(f"{mock.method} {mock.path}: the mock integration is missing")
    if problems:
        listed = sorted(f"{r.method} {r.path} -> {r.function or 'mock'}" for r in deployed)
        raise DeployCheckFailed(
            "the deployed API does not serve the code's routes (nothing is patched):\n  "
            + "\n  ".join(problems)
            + "\n  deployed: "
            + ", ".join(listed)
        )
    return api_id


HEALTH_BODY = {"status": "ok"}


def check_health(gateway_url: str, say: Callable[[str], None]) -> None:
    """The mock answers 200 without a function. Its body is the template's in AWS;
    ministack (1.5.33) imports a mock's type but not its integration responses from an
    OpenAPI body, so there it answers `{}`: reported, not failed."""
    import urllib3

    answer = urllib3.request("GET", f"{gateway_url}/v1/health", timeout=10, retries=False)
    if answer.status != 200:
        raise DeployCheckFailed(f"GET /v1/health: {answer.status} {answer.data[:200]!r}")
    body = json.loads(answer.data or b"null")
    note = "" if body == HEALTH_BODY else "  (the emulator drops a mock's response template)"
    say(f"   GET /v1/health: 200 {json.dumps(body)}{note}")


def check_console(gateway_url: str, say: Callable[[str], None]) -> None:
    """The console's files came with the api function's package (`sam build` copies the
    link functions/api/console as a folder), and config.json is made for the caller."""
    import urllib3

    script = urllib3.request("GET", f"{gateway_url}/console/js/segments.js", timeout=30)
    if script.status != 200 or b"export function countSegments" not in script.data:
        raise DeployCheckFailed(f"GET /console/js/segments.js: {script.status}")
    config = urllib3.request("GET", f"{gateway_url}/console/config.json", timeout=30)
    body = json.loads(config.data or b"null") if config.status == 200 else None
    if not isinstance(body, dict) or set(body) != {"api_base", "websocket_url"}:
        raise DeployCheckFailed(f"GET /console/config.json: {config.status} {config.data[:200]!r}")
    say(f"   GET /console/: the files and config.json ({json.dumps(body)})")


# -- infra/database.yaml -------------------------------------------------------------

DATABASE_STACK = "tether-database-check"
# Resource types ministack (1.5.33) refuses as "Unrecognized resource types", even
# under a false condition; the check deploys the rest of infra/database.yaml.
EMULATOR_UNKNOWN_TYPES = frozenset({"AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup"})


def emulated_database_template(document: Mapping[str, Any]) -> dict[str, Any]:
    """infra/database.yaml less what the emulator does not know: the proxy, whose
    endpoint output becomes the cluster's (the address the proxy would stand before)."""
    template: dict[str, Any] = json.loads(json.dumps(document))
    resources = template["Resources"]
    for name in [n for n, r in resources.items() if r["Type"] in EMULATOR_UNKNOWN_TYPES]:
        del resources[name]
    template["Outputs"]["DbProxyEndpoint"]["Value"] = {
        "Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]
    }
    return template


def deploy_database_template(aws: _Aws) -> list[tuple[str, str]]:
    """infra/database.yaml (less the proxy) through CloudFormation; its resources."""
    cloudformation = aws.client("cloudformation")
    template = emulated_database_template(load_template(PROJECT_ROOT / "infra" / "database.yaml"))
    cloudformation.create_stack(
        StackName=DATABASE_STACK,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=DATABASE_STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    return check_events_and_resources(aws, DATABASE_STACK)


# -- the demo ----------------------------------------------------------------------------


def run_demo_against(
    cleanup: ExitStack,
    aws: _Aws,
    endpoint: str,
    gateway_url: str,
    database_url: str,
    say: Callable[[str], None],
) -> None:
    from tether_dev.local.client import LocalStack
    from tether_dev.local.demo import run_demo
    from tether_dev.local.sandbox_process import SandboxOptions, SandboxProcess

    webhook_url = f"{gateway_url}/webhooks/sandbox"
    sandbox = SandboxProcess(SandboxOptions("127.0.0.1", 0, webhook_url)).start()
    cleanup.callback(sandbox.stop)
    names = {
        "timers": aws.function_name("TimersFunction"),
        "inbound_email": aws.function_name("InboundEmailFunction"),
    }
    stack = LocalStack(
        {
            "gateway_url": gateway_url,
            "webhook_url": webhook_url,
            "sandbox_url": sandbox.url,
            "sandbox_signing_secret": sandbox.signing_secret,
            "sandbox_api_token": sandbox.api_token,
            "lambda_url": endpoint,
            "function_names": names,
            "aws_endpoint_url": endpoint,
            "database_url": database_url,
            # the demo's email arrives as SES would leave it (LocalStack.drop_mail)
            "mail_bucket": aws.resources()["InboundMailBucket"]["PhysicalResourceId"],
        }
    )
    # the emulator's gateway URL (/_aws/execute-api/...) is not the one its functions
    # rebuild, so a signature over the URL (Twilio's) cannot verify behind it
    run_demo(
        stack, say=lambda line: say(f"   {line}"), wait_seconds=120.0, url_signed_webhooks=False
    )


def _run(command: list[str], what: str, env: Mapping[str, str] | None = None) -> None:
    log = WORK_DIR / f"{what.replace(' ', '-')}.log"
    with log.open("w") as output:
        done = subprocess.run(  # noqa: S603 - the SAM CLI of our virtual environment
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0", **(env or {})},
            cwd=PROJECT_ROOT,
            check=False,
        )
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise DeployCheckFailed(f"{what} failed ({done.returncode}), {log}:\n{tail}")
