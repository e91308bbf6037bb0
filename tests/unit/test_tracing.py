"""OpenTelemetry export (server/observability.py): off unless the standard variables ask, and then the SDK's span of
each tools/call reaches an OTLP/HTTP receiver with the pseudonymous caller and the decision, and no secret."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID
from msgflash_mcp.server.call.principal import token_principal
from msgflash_mcp.server.observability import export_requested
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.clients.conftest import MSGFLASH_MCP, free_port, server_env, stop
from tests.conftest import call_ok
from tests.serving import serving

TOKEN = "tracing-test-bearer-token-7c1d9e"
PRINCIPAL_KEY = "tracing-test-principal-key-2b8f"
PHONE, TEXT = "+33612345077", "Bonjour, le code est 4471"


@pytest.mark.parametrize(("environ", "on"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),  # the exporter's default endpoint, localhost:4318
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ({"OTEL_TRACES_EXPORTER": "console"}, False),  # would write to stdout, the stdio protocol
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, False),  # only OTLP over HTTP
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, True),
])
def test_export_is_on_only_when_the_standard_variables_ask_for_otlp(environ: dict[str, str], on: bool) -> None:
    assert export_requested(environ) is on


@pytest.mark.parametrize(("environ", "loaded"), [({}, False), ({"OTEL_TRACES_EXPORTER": "otlp"}, True)])
def test_a_start_up_without_otel_variables_imports_no_opentelemetry_sdk(environ: dict[str, str], loaded: bool) -> None:
    # A fresh interpreter: this process has long imported everything. The second case shows the probe can see it.
    probe = (
        "import sys\n"
        "import msgflash_mcp.server.__main__, msgflash_mcp.server.transport.serve\n"
        "from msgflash_mcp.server.app import build_server\n"
        "from msgflash_mcp.server.core.settings import Settings\n"
        "from msgflash_mcp.server.observability import tracing\n"
        f"with tracing({environ!r}):\n"
        "    build_server(Settings(sandbox=True, sandbox_db=':memory:', rate_limit=0))\n"
        "    print('opentelemetry.sdk' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == str(loaded)


@dataclass
class Receiver:
    """A minimal OTLP/HTTP collector: POST /v1/traces, protobuf in, every span kept with its attributes."""

    url: str = ""
    spans: list[tuple[str, dict[str, Any]]] = field(default_factory=list[tuple[str, dict[str, Any]]])
    resources: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    async def traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            self.resources.append({a.key: value_of(a.value) for a in resource_spans.resource.attributes})
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append((span.name, {a.key: value_of(a.value) for a in span.attributes}))
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = Starlette(routes=[Route("/v1/traces", found.traces, methods=["POST"])])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        found.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serving((app, sock), lifespan="off"):
            yield found


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_the_tools_call_span_reaches_an_otlp_receiver_with_the_pseudonym_and_no_secret(receiver: Receiver) -> None:
    """The real `msgflash-mcp --transport http` with a static bearer token and OTEL_EXPORTER_OTLP_ENDPOINT; one
    send and one read through the SDK's client; stopping the server flushes its spans to the receiver."""
    port = free_port()
    env = {**server_env(), "MSGFLASH_HTTP_TOKEN": TOKEN, "MSGFLASH_PRINCIPAL_KEY": PRINCIPAL_KEY,
           "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "OTEL_BSP_SCHEDULE_DELAY": "600000"}  # no batch leaves on schedule: only the flush at stop sends them
    env.pop("OTEL_TRACES_EXPORTER", None)
    env.pop("OTEL_SDK_DISABLED", None)
    url = f"http://127.0.0.1:{port}/mcp"
    process = await anyio.open_process([str(MSGFLASH_MCP), "--sandbox", "--transport", "http", "--port", str(port)],
                                       stdin=None, env=env)
    try:
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=10) as http:
                while True:
                    assert process.returncode is None, "msgflash-mcp exited early"
                    try:
                        await http.get(url)  # any answer means it serves
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.2)
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    await call_ok(client, "list_instances", {})
                    pending = await call_ok(client, "send_message", {
                        "instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": PHONE, "type": "text", "text": TEXT})
                    assert pending["status"] == "confirmation_required"
    finally:
        await stop(process)  # SIGTERM: the server stops and its tracer provider flushes
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn ends by re-raising the SIGTERM it handled

    with anyio.fail_after(20):
        while not any(name == "tools/call send_message" for name, _ in receiver.spans):  # noqa: ASYNC110
            await anyio.sleep(0.05)
    spans = dict(receiver.spans)
    pseudonym = "http:" + token_principal(TOKEN, PRINCIPAL_KEY.encode())
    send = spans["tools/call send_message"]
    assert send["enduser.pseudo.id"] == pseudonym
    assert send["gen_ai.tool.name"] == "send_message" and send["msgflash.workspace"] == "personal"
    assert (send["msgflash.confirmation"], send["msgflash.outcome"]) == ("token", "confirmation_required")
    read = spans["tools/call list_instances"]
    assert read["enduser.pseudo.id"] == pseudonym and read["msgflash.workspace"] == "personal"
    assert "msgflash.role" not in send  # roles are for signed-in people
    assert {r.get("service.name") for r in receiver.resources} == {"msgflash-mcp"}
    # Never the bearer token, the API key, a phone number, the message text or the confirmation token.
    exported = repr(receiver.spans) + repr(receiver.resources)
    for secret in (TOKEN, PERSONAL_KEY, PHONE, PHONE.removeprefix("+"), TEXT, "4471", pending["confirm_token"]):
        assert secret not in exported
