"""Turns a `ToolSpec` into an MCP tool: the model-facing signature, and the one path every call takes.

Path of a call: typed arguments (validated by the SDK before anything runs) -> workspace resolution
-> confirmation guard (a `Resolve` dependency, so elicitation works on both protocol eras) -> the
tool function with its bound `Api` -> sanitised, scrubbed `ToolOutput` -> audit. API failures become
readable `ToolError`s; nothing else about a failure reaches the model.
"""

from __future__ import annotations

import inspect
import logging
from typing import Annotated, Any, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import CallToolResult
from pydantic import Field

from ..api import Api
from ..errors import MsgFlashError
from ..guard import ConfirmForm, Decision
from ..output_schemas import output_schema_for
from ..registry import Route, ToolSpec
from ..results import UNTRUSTED_NOTE, Preview, Reply, ToolOutput, render
from ..runtime import Connection, Runtime
from ..untrusted import clean_text, sanitize
from .validation import ReadableArgumentsTool

log = logging.getLogger("msgflash_mcp.tools")

KW = inspect.Parameter.KEYWORD_ONLY

# Undescribed on purpose: server instructions say once what it means (app.instructions), instead of
# ~350 tokens of the same words on every tool (bench/footprint.py).
WorkspaceArg = Annotated[str | None, Field()]
ConfirmTokenArg = Annotated[str | None, Field(description="Token from confirmation_required")]


def principal_of(ctx: Context | None, connection: Connection) -> str:
    """Who is calling: the authenticated HTTP client, else this connection (stdio, in-memory)."""
    token = get_access_token()
    if token is not None:
        return "http:" + (token.subject or token.client_id)
    return connection.connection_id


def connection_of(ctx: Context) -> Connection:
    return cast(Connection, ctx.request_context.lifespan_context)


async def bind_route(
    connection: Connection, route: Route | None, requested: str | None = None, principal: str | None = None
) -> Api:
    """An `Api` for `route` in the right workspace: personal-only routes always get the personal key,
    others the requested or active workspace. Tool calls, resources, completions and doctor all bind here."""
    principal = principal or principal_of(None, connection)
    workspaces = connection.runtime.workspaces
    if route is None:  # the server's own tools (workspace switching) reach no API route
        workspace = None
    elif route.personal_only:
        workspace = workspaces.require_personal()
    else:
        workspace = await workspaces.resolve(requested, principal)
    return Api(connection.api, route, workspace, workspaces, principal=principal)


def default_preview(spec: ToolSpec, args: dict[str, Any]) -> Preview:
    shown = {k: v for k, v in args.items() if v is not None and k not in ("workspace", "confirm_token")}
    return Preview(action=f"{spec.title} ({spec.route})", details={"arguments": shown})


def _make_resolver(spec: ToolSpec, arg_names: list[str]) -> Any:
    """A resolver whose signature names the tool's own arguments, so the SDK passes them by name."""

    async def confirm(**kwargs: Any) -> Decision | Elicit[ConfirmForm]:
        ctx: Context = kwargs.pop("ctx")
        connection = connection_of(ctx)
        runtime = connection.runtime
        principal = principal_of(ctx, connection)
        token = kwargs.get("confirm_token")
        tool_args = {k: v for k, v in kwargs.items() if k not in ("workspace", "confirm_token")}
        path = "dry-run" if runtime.settings.dry_run else ("token" if token else "none")
        try:
            api = await bind_route(connection, spec.route, kwargs.get("workspace"), principal)
        except MsgFlashError as exc:
            # A call refused here never reaches the tool body: audit it now (every mutating call is one line).
            await runtime.audit.record(tool=spec.name, workspace=None, args=tool_args, confirmation=path,
                                       outcome=f"error: {_error_name(exc)}", principal=principal)
            raise ToolError(runtime.scrubber.text(exc.for_model())) from None
        if not spec.guarded and not runtime.settings.dry_run:
            return Decision("proceed", "none")

        async def make_preview() -> Preview:
            if spec.preview is None:
                return default_preview(spec, tool_args)
            try:
                return await spec.preview(api, **tool_args)
            except MsgFlashError as exc:
                raise ToolError(
                    "could not compute what this would do, nothing was sent: "
                    + runtime.scrubber.text(exc.for_model())
                ) from None

        workspace_name = api.workspace.name if api.workspace else "-"
        try:
            return await runtime.guard.decide(
                spec,
                ctx,
                kwargs,
                workspace=workspace_name,
                principal=principal,
                confirm_token=token,
                make_preview=make_preview,
            )
        except ToolError:
            # Refused by the guard (policy, bad/expired/foreign token) or no preview: audited, then surfaced.
            await runtime.audit.record(tool=spec.name, workspace=api.workspace.name if api.workspace else None,
                                       args=tool_args, confirmation=path, outcome="error: refused",
                                       principal=principal)
            raise

    params = [inspect.Parameter("ctx", KW, annotation=Context)]
    params += [inspect.Parameter(name, KW) for name in arg_names]
    returns = Decision | Elicit[ConfirmForm]
    confirm.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    confirm.__annotations__ = {"ctx": Context, "return": returns}
    confirm.__name__ = confirm.__qualname__ = f"confirm_{spec.name}"
    return confirm


def _decision(answer: Any) -> Decision:
    if isinstance(answer, AcceptedElicitation):
        data: Any = answer.data  # type: ignore[reportUnknownMemberType]
        if isinstance(data, Decision):
            return data
        if isinstance(data, ConfirmForm) and data.confirm:
            return Decision("proceed", "elicited")
        return Decision("declined", "elicited", answer="decline")
    return Decision("declined", "elicited", answer=str(getattr(answer, "action", "cancel")))


def build_tool(spec: ToolSpec) -> Tool:
    own = [param.replace(kind=KW) for param in spec.parameters()]
    extra: list[inspect.Parameter] = []
    if spec.workspace_scoped:
        extra.append(inspect.Parameter("workspace", KW, default=None, annotation=WorkspaceArg))
    if spec.guarded:
        extra.append(inspect.Parameter("confirm_token", KW, default=None, annotation=ConfirmTokenArg))
    model_params = own + extra
    arg_names = [param.name for param in model_params]
    mutating = spec.effect.mutating

    async def call(**kwargs: Any) -> CallToolResult:
        ctx: Context = kwargs.pop("ctx")
        answer = kwargs.pop("decision", None)
        requested = kwargs.pop("workspace", None) if spec.workspace_scoped else None
        kwargs.pop("confirm_token", None)
        connection = connection_of(ctx)
        runtime = connection.runtime
        principal = principal_of(ctx, connection)
        decision = _decision(answer) if mutating else Decision("proceed", "none")
        api: Api | None = None
        try:
            api = await bind_route(connection, spec.route, requested, principal)
            api.progress = ctx.report_progress
            label = api.label if api.workspace else None
            if decision.kind != "proceed":
                output = _not_acted(spec, decision, label)
            else:
                reply = await spec.fn(api, **kwargs)
                output = _acted(reply, label, third_party=spec.route is not None)
                if decision.token_hash:  # a token was redeemed: keep the result for replays
                    await runtime.guard.save_result(decision, output.model_dump(mode="json"))
        except MsgFlashError as exc:
            await _audit(runtime, spec, api, kwargs, decision, f"error: {_error_name(exc)}", principal)
            raise ToolError(runtime.scrubber.text(exc.for_model())) from None
        except ToolError:  # the tool refused its arguments (e.g. nothing to update): still one audit line
            await _audit(runtime, spec, api, kwargs, decision, "error: invalid", principal)
            raise
        await _audit(runtime, spec, api, kwargs, decision, output.status, principal, _api_id(output.data))
        return render(output, runtime.scrubber.data)

    params = [*model_params, inspect.Parameter("ctx", KW, annotation=Context)]
    if mutating:
        resolver = _make_resolver(spec, arg_names)
        params.append(
            inspect.Parameter("decision", KW, annotation=Annotated[ElicitationResult[ConfirmForm], Resolve(resolver)])
        )
    returns = CallToolResult
    call.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = {param.name: param.annotation for param in params} | {"return": returns}
    call.__name__ = call.__qualname__ = spec.name
    call.__module__ = spec.fn.__module__

    tool = ReadableArgumentsTool.from_function(call, name=spec.name, title=spec.title, description=spec.description,
                              annotations=spec.annotations())
    tool.parameters = compact_schema(tool.parameters)
    # Each tool declares the schema of its own data, or none (server/output_schemas.py).
    tool.fn_metadata.output_schema = output_schema_for(spec.output)
    return tool



def _acted(reply: Reply, label: str | None, *, third_party: bool) -> ToolOutput:
    data = sanitize(reply.data) if third_party else reply.data
    # Summaries quote API data too (a contact's name, a message body): clean them like the data.
    summary = clean_text(reply.summary) if third_party else reply.summary
    return ToolOutput(
        status="ok",
        workspace=label,
        summary=summary,
        data=data,
        next_cursor=reply.next_cursor,
        note=UNTRUSTED_NOTE if third_party and _has_text(data) else None,
    )


def _not_acted(spec: ToolSpec, decision: Decision, label: str | None) -> ToolOutput:
    if decision.kind == "replay" and decision.replay is not None:
        replay = dict(decision.replay)
        replay["status"] = "replayed"
        replay["summary"] = "Already done with this token (not repeated): " + str(replay.get("summary", ""))
        return ToolOutput.model_validate(replay)
    preview = decision.preview.as_dict() if decision.preview else None
    action = decision.preview.action if decision.preview else spec.title
    if decision.kind == "pending":
        return ToolOutput(
            status="confirmation_required",
            workspace=label,
            summary=(
                f"Confirmation required, nothing was done yet: {action}. Show the preview to the user; only if they "
                f"agree, call {spec.name} again with identical arguments plus confirm_token (valid 10 minutes, once)."
            ),
            preview=preview,
            confirm_token=decision.token,
        )
    if decision.kind == "dry_run":
        return ToolOutput(
            status="dry_run", workspace=label, summary=f"Dry run, nothing was sent: {action}.", preview=preview
        )
    return ToolOutput(
        status="declined",
        workspace=label,
        summary=(
            f"Not done: the user {'cancelled' if decision.answer == 'cancel' else 'declined'} the confirmation. "
            "Nothing was sent or changed."
        ),
        note="Do not retry unless the user asks again.",
    )


_TEXT_KEYS = {"body", "text", "name", "description", "caption", "title", "footer", "rendered", "fullName", "content"}


def _has_text(data: Any) -> bool:
    if isinstance(data, dict):
        return any(k in _TEXT_KEYS or _has_text(v) for k, v in data.items())  # type: ignore[misc]
    if isinstance(data, list):
        return any(_has_text(v) for v in data[:50])  # type: ignore[misc]
    return False


def _error_name(exc: MsgFlashError) -> str:
    """The API's error code when there is one (NOT_FOUND, ...), else the kind of failure."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__name__


def _api_id(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("id", "jobId", "lookupId", "providerMessageId"):
            value = data.get(key)  # type: ignore[misc]
            if isinstance(value, str):
                return value
    return None


async def _audit(
    runtime: Runtime,
    spec: ToolSpec,
    api: Api | None,
    args: dict[str, Any],
    decision: Decision,
    outcome: str,
    principal: str,
    api_id: str | None = None,
) -> None:
    if not spec.effect.mutating:
        return
    await runtime.audit.record(
        tool=spec.name,
        workspace=api.workspace.name if api and api.workspace else None,
        args=args,
        confirmation=decision.path,
        outcome=outcome,
        api_id=api_id,
        principal=principal,
    )


def compact_schema(schema: Any) -> Any:
    """What the model reads, lean: the model context is a budget (bench/footprint.py, <= 6,000 tokens).

    Drops pydantic's auto titles, null defaults and `X | None` null branches (optional parameters are
    already marked by their absence from `required`; a top-level anyOf some providers reject), and
    the trivial `minLength: 1` / `minItems: 1` (no model sends an empty name or an empty id list, and
    pydantic still enforces them before anything runs). `type` comes first: the same keywords in
    that order tokenize shorter.
    """
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():  # type: ignore[misc]
            if key == "title" and isinstance(value, str):
                continue
            if key == "default" and value is None:
                continue
            if key in ("minLength", "minItems") and value == 1:
                continue
            out[key] = compact_schema(value) if key != "properties" else {
                name: compact_schema(prop) for name, prop in value.items()  # type: ignore[misc]
            }
        any_of = out.get("anyOf")
        if isinstance(any_of, list):
            branches = [b for b in any_of if b != {"type": "null"}]  # type: ignore[misc]
            if len(branches) == 1 and len(branches) < len(any_of):  # type: ignore[misc]
                del out["anyOf"]
                out = {**branches[0], **out}
        if "type" in out:
            out = {"type": out.pop("type"), **out}
        return out
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]  # type: ignore[misc]
    return schema
