"""OpenTelemetry export of the SDK's spans, optional (the `otel` extra), with who called and what was decided.

The mcp SDK already opens one span per JSON-RPC message (its OpenTelemetryMiddleware, through opentelemetry-api,
a no-op until a tracer provider is set). `tracing()` sets one when the standard variables ask for OTLP export:
- `OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`,
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) with `OTEL_TRACES_EXPORTER` unset;
- never with `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`. Other exporters (console would write to
  stdout, the stdio protocol) and protocols other than http/protobuf are refused with a warning.
Off, nothing of the OpenTelemetry SDK is imported. On: a TracerProvider (service name `msgflash-mcp` unless the
operator names one) with a BatchSpanProcessor and the OTLP/HTTP exporter, which reads the rest of its
configuration (endpoint, headers, timeout) from the standard variables; shut down, so flushed, when the server stops.

`annotate` adds to the current span, the SDK's span of the `tools/call` being served, what this server knows
and the SDK does not: the pseudonymous principal, workspace, role and the decision. Only those: never a
token, API key, phone number or message text (arguments are not exported at all).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from opentelemetry import trace

log = logging.getLogger("msgflash_mcp")

SERVICE_NAME = "msgflash-mcp"
# `enduser.pseudo.id`, not `enduser.id`: semantic conventions keep `enduser.id` for an identifier such as a
# username or an email, and `enduser.pseudo.id` for a pseudonymous one that is not directly linked to the
# person; our principal is a keyed hash (server/call/principal.py) that only the install's key links back.
PRINCIPAL = "enduser.pseudo.id"
TOOL = "gen_ai.tool.name"  # the SDK's own attribute on a tools/call span: the same value, the tool that ran
WORKSPACE = "msgflash.workspace"
ROLE = "msgflash.role"
CONFIRMATION = "msgflash.confirmation"
OUTCOME = "msgflash.outcome"


def export_requested(environ: Mapping[str, str]) -> bool:
    """Whether the standard OpenTelemetry variables ask this server to export traces (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()}
    if exporters:
        unsupported = exporters - {"otlp", "none"}
        if unsupported:
            log.warning("msgflash-mcp: OTEL_TRACES_EXPORTER %s is not supported (only otlp): ignored",
                        ",".join(sorted(unsupported)))
        wanted = "otlp" in exporters
    else:
        wanted = any(environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    if not wanted:
        return False
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol and protocol.strip().lower() != "http/protobuf":
        log.warning("msgflash-mcp: OTLP protocol %s is not supported (only http/protobuf): traces not exported",
                    protocol)
        return False
    return True


@contextmanager
def tracing(environ: Mapping[str, str] | None = None) -> Generator[bool]:
    """Exports traces while the block runs when the environment asks for it (yields whether it does); flushes at
    the end. Without the `otel` extra it says how to install it and the server runs untraced."""
    if not export_requested(os.environ if environ is None else environ):
        yield False
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("msgflash-mcp: OpenTelemetry export asked for, but its packages are missing: "
                    "install msgflash-mcp[otel]; traces not exported")
        yield False
        return
    resource = Resource.create()  # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, when the operator sets them
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Global, as the SDK's tracer is (a proxy resolved at its first span): set once per process.
    trace.set_tracer_provider(provider)
    restore = _flush_before_sigterm(provider.shutdown)
    try:
        yield True
    finally:
        restore()
        provider.shutdown()  # flushes the spans still queued (a second shutdown does nothing)


def _flush_before_sigterm(flush: Callable[[], object]) -> Callable[[], None]:
    """SIGTERM kills a Python process without running `finally` blocks, and uvicorn, after its graceful shutdown,
    raises the SIGTERM it caught again with the handler it found: so the handler it finds flushes first, then lets
    the signal do what it did before (the exit status stays "terminated"). Returns what restores the old one."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def flush_then_terminate(signum: int, frame: FrameType | None) -> Any:
        flush()
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        signal.raise_signal(signum)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    signal.signal(signal.SIGTERM, flush_then_terminate)
    return restore


def annotate(
    *,
    principal: str,
    tool: str,
    workspace: str | None,
    role: str | None = None,
    confirmation: str | None = None,
    outcome: str | None = None,
) -> None:
    """Adds the call's facts to the current span (the SDK's tools/call span); nothing when no span records."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    facts = {PRINCIPAL: principal, TOOL: tool, WORKSPACE: workspace, ROLE: role, CONFIRMATION: confirmation,
             OUTCOME: outcome}
    span.set_attributes({name: value for name, value in facts.items() if value is not None})
