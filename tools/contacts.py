"""Contacts of the workspace, and the asynchronous bulk jobs that large contact operations become."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, Field, StringConstraints

from ..server.api import Api, given
from ..server.call.context import CallContext
from ..server.core.errors import ApiError, MsgFlashError
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.guard.policy import urls_in_text
from ..server.registry import DELETE, GET, POST, PUT, Effect, Example, Made, Seed, ToolInput, Toolset, single
from ..server.untrusted import one_line, quote_untrusted
from ._impact import campaigns_line, pending_campaigns
from ._people import SAMPLE, people
from ._polling import JOB_FINISHED, MAX_WAIT, follow
from ._responses import BulkJob, Contact, ContactPage
from ._routes import CONTACT_GROUPS, CONTACTS
from ._types import ContactId, Cursor, JobId, Limit, Phone, phone_search

toolset = Toolset("contacts", "Contacts of the workspace and bulk contact jobs.")

# A job that is still running when its example call reads or cancels it: a bulk delete of 500 ids is
# answered with a job (the ids need not exist). Written as text: 500 uuid.UUID objects cost ~1 ms of every start-up.
A_RUNNING_JOB = Example(
    {"job_id": Made("jobId")},
    first=("bulk_delete_contacts", {"contact_ids": [f"00000000-0000-0000-0000-{0x10000 + i:012x}" for i in range(500)]}),
)


# The API turns 100 or more ids (bulk delete, group members) into an asynchronous job (202 + job).
ASYNC_THRESHOLD = 100
MAX_IDS = 10_000


def _unique(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in ids:
        (repeated if value in seen else seen).add(value)
    if repeated:
        raise ValueError(f"ids must be unique; repeated: {', '.join(sorted(repeated)[:5])}")
    return ids


ContactIds = Annotated[
    list[ContactId],
    Field(
        min_length=1,
        max_length=MAX_IDS,
        description="Contact ids; 100+ run as a bulk job",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_unique),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Field(description="Full name")
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=100, description="Tags, e.g. ['vip']")]
Meta = Annotated[dict[str, Any], Field(description="Free-form metadata object")]
Search = Annotated[str, StringConstraints(min_length=1, max_length=100), Field(description="Name or phone contains")]
Sort = Annotated[Literal["createdAt_desc", "name_asc"], Field(description="Keep the same sort across pages")]

CONTACT = GET("/api/v1/contacts/{id}")


def _who(contact: dict[str, Any]) -> str:
    """A contact in a summary line: its (third-party) name quoted, on one line."""
    return f"{quote_untrusted(contact.get('name') or '?', 60)} ({one_line(contact.get('phone') or '?', 32)})"


# ---------------------------------------------------------------- selection by tag (also used by groups)

# The API has no tag filter (REFERENCE 10.1), so a tag selector reads contact pages and filters here.
# Pages go through the bound Api, hence the shared per-key limiter; the bound keeps one call to
# MAX_TAG_PAGES requests (5,000 contacts at 100 a page) and the result says when it stopped early.
TAG_PAGE_SIZE = 100
MAX_TAG_PAGES = 50
MAX_SELECTOR_TAGS = 10
DEFAULT_MATCHES = 50  # contacts a tag-filtered list shows when no limit is given

TagSelector = Annotated[
    list[Tag],
    Field(min_length=1, max_length=MAX_SELECTOR_TAGS, description="Only contacts with all these tags"),
]


@dataclass(frozen=True)
class TagSelection:
    """The contacts carrying every one of `tags`, as found by `select_by_tags`."""

    tags: tuple[str, ...]
    contacts: list[dict[str, Any]]  # list items as the API returns them: id, name, phone, tags, ...
    scanned: int  # contacts read
    total: int | None  # contacts in the workspace (matching `search`), per the API
    next_cursor: str | None  # set when MAX_TAG_PAGES stopped the scan: where to resume

    @property
    def complete(self) -> bool:
        return self.next_cursor is None

    @property
    def ids(self) -> list[str]:
        return [str(contact["id"]) for contact in self.contacts]

    def who(self, first: int = 5) -> list[dict[str, Any]]:
        """Name and phone of the first `first` contacts: what a preview shows a person."""
        return [{"name": c.get("name"), "phone": c.get("phone"), "id": c.get("id")} for c in self.contacts[:first]]

    def describe(self) -> str:
        """One line: how many, with which tags, and whether the whole workspace was read."""
        line = f"{len(self.contacts)} contact(s) tagged {', '.join(repr(t) for t in self.tags)}"
        if not self.complete:
            line += f" among the first {self.scanned} of {self.total} (the scan stops after {MAX_TAG_PAGES} pages)"
        return line


async def resolve_selector(
    call: CallContext, contact_ids: list[str] | None, tags: list[str] | None, *, verb: str
) -> tuple[list[str], TagSelection | None]:
    """The contact ids a tool acts on, from exactly one of `contact_ids` or a tag selector.

    For tags, also the selection (names and phones for a preview or result). Refuses, as a ToolError
    naming the fix, both or neither given, and a tag scan the page bound stopped: acting on part of
    "every contact tagged X" while saying "every" would be wrong. `verb` says what would not happen.
    """
    if (contact_ids is None) == (tags is None):
        raise ToolError("give either contact_ids or tags (contacts carrying all of them), not both or neither")
    if tags is None:
        return list(contact_ids or []), None
    selection = await select_by_tags(call, tags)
    if not selection.complete:
        raise ToolError(
            f"nothing {verb}: {selection.describe()}. Read the matches with list_contacts(tags=...) page by page "
            "and pass their ids as contact_ids"
        )
    return selection.ids, selection


def _has_tags(contact: dict[str, Any], wanted: set[str]) -> bool:
    own = {str(tag).strip().casefold() for tag in contact.get("tags") or []}
    return wanted <= own


async def select_by_tags(
    call: CallContext,
    tags: list[str],
    *,
    search: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
) -> TagSelection:
    """The contacts carrying all of `tags` (case-insensitive), read page by page from the API.

    The one place a tag selector is resolved: list_contacts filters with it, and tools that act on
    "every contact tagged X" (group adds, bulk deletes) resolve it to ids before they act, so their
    preview or result names exactly who. Reads at most MAX_TAG_PAGES pages through `api` (shared
    limiter, progress notifications); `TagSelection.complete` is False when that bound stopped it.
    `search` narrows the pages on the API side; `cursor` (from a scan with the same `sort`) resumes one.
    """
    wanted = {tag.strip().casefold() for tag in tags}
    found: list[dict[str, Any]] = []
    scanned, total = 0, None
    for _ in range(MAX_TAG_PAGES):
        page = await call.api.call(
            CONTACTS, query={"limit": TAG_PAGE_SIZE, "cursor": cursor, "search": search, "sort": sort}
        )
        rows = page.get("contacts") or []
        scanned += len(rows)
        total = page.get("total", total)
        found += [row for row in rows if _has_tags(row, wanted)]
        cursor = page.get("nextCursor")
        await call.report_progress(float(scanned), float(total) if total else None, f"scanned {scanned} contacts")
        if not cursor:
            break
    return TagSelection(tuple(tags), found, scanned, total, cursor)


def _more(data: dict[str, Any]) -> str:
    return " (more: pass next_cursor)" if data.get("nextCursor") else ""


# ---------------------------------------------------------------- bulk job helpers (also used by groups)


def is_job(data: Any) -> bool:
    """A 202 answer: the operation was queued as a bulk job instead of running now."""
    return isinstance(data, dict) and data.get("mode") == "async" and bool(data.get("jobId"))


def queued_summary(data: dict[str, Any], what: str) -> str:
    job_id = data.get("jobId")
    return (
        f"Queued as bulk job {job_id} ({what}, {data.get('requestedCount')} ids, status {data.get('status')}). "
        f"Follow it with get_bulk_job_progress(job_id='{job_id}', wait_seconds=30)"
    )


def job_line(job: dict[str, Any]) -> str:
    counts = ", ".join(f"{key} {value}" for key, value in (job.get("summary") or {}).items())
    line = (
        f"Bulk job {job.get('id')} ({job.get('operation')}): {job.get('status')}, "
        f"{job.get('processedCount')}/{job.get('requestedCount')} processed ({job.get('progress')}%)"
    )
    if counts:
        line += f"; {counts}"
    if job.get("error"):
        line += f"; error: {job.get('error')}"
    return line


# ---------------------------------------------------------------- contacts


class ListContactsInput(ToolInput):
    limit: Limit | None = None
    cursor: Cursor | None = None
    search: Search | None = None
    sort: Sort | None = None
    tags: TagSelector | None = None


@toolset.tool(CONTACTS, Effect.READ, output=ContactPage, example=Example({"search": "+33 6 12 34 50 00"}))
async def list_contacts(call: CallContext, args: ListContactsInput) -> Reply:
    """List or search contacts (name/phone); tags filters over all pages. For group members use list_group_members."""
    limit, cursor, search, sort, tags = args.limit, args.cursor, args.search, args.sort, args.tags
    phone = phone_search(search) if search else None
    query_text = phone or search
    matching = f" matching {search!r}" + (f" (as {phone})" if phone and phone != search else "") if search else ""
    if tags:
        selection = await select_by_tags(call, tags, search=query_text, sort=sort, cursor=cursor)
        shown = selection.contacts[: limit or DEFAULT_MATCHES]
        more = f", showing the first {len(shown)}" if len(shown) < len(selection.contacts) else ""
        data = {
            "contacts": shown,
            "matched": len(selection.contacts),
            "scanned": selection.scanned,
            "total": selection.total,
            "complete": selection.complete,
            "nextCursor": selection.next_cursor,
        }
        resume = "; more may match: pass next_cursor" if selection.next_cursor else ""
        return Reply(selection.describe() + matching + more + resume, data, next_cursor=selection.next_cursor)
    data = await call.api(query={"limit": limit, "cursor": cursor, "search": query_text, "sort": sort})
    contacts = data.get("contacts") or []
    summary = f"{len(contacts)} of {data.get('total', len(contacts))} contact(s){matching}{_more(data)}"
    return Reply(summary, data, next_cursor=data.get("nextCursor"))


class ContactRef(ToolInput):
    contact_id: ContactId


@toolset.tool(CONTACT, Effect.READ, output=Contact, example=Example({"contact_id": Seed("AWA_CONTACT_ID")}))
async def get_contact(call: CallContext, args: ContactRef) -> Reply:
    """One contact by id, with tags and metadata."""
    data = await call.api(path={"id": args.contact_id})
    return Reply(f"Contact {_who(data)}", data)


class CreateContactInput(ToolInput):
    name: Name
    phone: Phone
    tags: Tags | None = None
    meta: Meta | None = None


@toolset.tool(
    POST("/api/v1/contacts"), Effect.WRITE, output=Contact,
    plan=single(lambda args: f"Create contact {_who({'name': args.name, 'phone': args.phone})}"),
    example=Example({"name": "Zoé Kane", "phone": "+33612345999", "tags": ["new"]}),
)
async def create_contact(call: CallContext, args: CreateContactInput) -> Reply:
    """Create a contact. A phone in use fails with CONFLICT naming its contact id."""
    try:
        data = await call.send_plan()
    except ApiError as exc:
        if exc.code != "CONFLICT":
            raise
        existing = await _contact_with_phone(call.api, args.phone)
        raise ExistingContact(exc, existing) if existing else exc from None
    return Reply(f"Created contact {_who(data)}, id {data.get('id')}", data)


class ExistingContact(ApiError):
    """create_contact's 409 CONFLICT with the contact that already has the number: the API's answer does
    not name it, so "add her unless she exists" would cost the model a search; it is looked up here."""

    def __init__(self, conflict: ApiError, contact: dict[str, Any]) -> None:
        self.contact_id = str(contact.get("id"))
        super().__init__(conflict.status, conflict.code,
                         f"{conflict.message}: {_who(contact)}, id {self.contact_id}", conflict.details)

    def advice(self) -> str:
        return (f"nothing was created; use contact_id {self.contact_id} for that person (add_group_members "
                "contact_ids, send_message, update_contact to change the name or tags)")


async def _contact_with_phone(api: Api, phone: str) -> dict[str, Any] | None:
    """The contact stored under exactly this E.164 number, or None (the lookup is a courtesy: it never
    hides the API's own error)."""
    try:
        page = await api.call(CONTACTS, query={"search": phone_search(phone) or phone, "limit": 10})
    except MsgFlashError:
        return None
    return next((c for c in page.get("contacts") or [] if c.get("phone") == phone), None)


class UpdateContactInput(ToolInput):
    contact_id: ContactId
    name: Name | None = None
    phone: Phone | None = None
    tags: Annotated[Tags | None, Field(description="REPLACES all tags; [] clears them")] = None
    meta: Annotated[Meta | None, Field(description="REPLACES the whole metadata object")] = None


async def plan_update_contact(call: CallContext, input: UpdateContactInput) -> Plan:
    """The one PUT. An edit that changes what a pending campaign (this server's record) sends is a plan
    like a send: a recipient's new phone, or a new name or metadata its template renders, is confirmed and
    meets the policies (docs/frozen-or-guarded.md). Other edits go
    through unasked, with no read."""
    change = given({"name": input.name, "phone": input.phone, "tags": input.tags, "meta": input.meta})
    if not change:
        raise ToolError("nothing to update: give at least one of name, phone, tags, meta")
    preview = Preview(action=f"Update contact {input.contact_id} ({', '.join(change)})",
                      details={"id": input.contact_id, "fields": list(change)})
    if {"phone", "name", "meta"} & set(change):
        await _guard_recipient_edit(call, input, preview)
    return call.plan_from(preview, path={"id": input.contact_id}, json=change)


async def _guard_recipient_edit(call: CallContext, input: UpdateContactInput, preview: Preview) -> None:
    """Ask for a confirmation (in `preview`) when the edit changes what pending campaigns send to this
    contact, and put what they would then send under the policies: the new phone under the recipient
    allow-list, links in a new name or metadata value (rendered by templated campaigns) under the URL
    allow-list. Reads nothing when this server's record holds no campaign of the workspace."""
    if call.workspace_name is None:
        return
    entries = await call.campaigns.unfinished(call.workspace_name)
    if not entries:
        return
    contact = await call.api.call(CONTACT, path={"id": input.contact_id})
    new_phone = input.phone if input.phone is not None and input.phone != contact.get("phone") else None
    rendered = _rendered_changes(contact, input)
    if new_phone is None and not rendered:
        return
    pending = await pending_campaigns(call, contact=contact)
    templated = {entry.id for entry in entries if entry.template_id}
    rendering = [c for c in pending if c["id"] in templated] if rendered else []
    if new_phone is not None and pending:
        preview.action = f"Change the phone of {_who(contact)} to {one_line(new_phone, 32)}"
        preview.numbers = [new_phone]
        preview.warnings.append(f"{_who(contact)} is a recipient of {len(pending)} pending campaign(s), which would "
                                f"message the new number: {campaigns_line(pending)}")
        preview.confirm_reason = "the new phone changes who pending campaigns message"
    if rendering:
        preview.urls = urls_in_text(*rendered)
        preview.warnings.append(f"{len(rendering)} pending campaign(s) render {_who(contact)}'s "
                                f"{' and '.join(f for f in ('name', 'meta') if f in preview.details['fields'])} "
                                f"in what they send: {campaigns_line(rendering)}")
        preview.confirm_reason = preview.confirm_reason or "the new values change what pending campaigns send"
    asked = pending if new_phone is not None and pending else rendering
    if asked:
        preview.details["campaigns"] = asked
        preview.affects = [str(campaign["id"]) for campaign in asked]


def _rendered_changes(contact: dict[str, Any], input: UpdateContactInput) -> list[str]:
    """The new values a template can render ({{contact.name}}, {{contact.<meta key>}}) that differ from now."""
    values: list[str] = []
    if input.name is not None and input.name != contact.get("name"):
        values.append(input.name)
    if input.meta is not None:
        old = contact.get("meta") or {}
        values += [str(v) for k, v in input.meta.items() if isinstance(v, str | int | float) and old.get(k) != v]
    return values


@toolset.tool(
    PUT("/api/v1/contacts/{id}"), Effect.WRITE, plan=plan_update_contact, confirmable=True,
    example=Example({"contact_id": Seed("AWA_CONTACT_ID"), "name": "Awa D."}),
)
async def update_contact(call: CallContext, args: UpdateContactInput) -> Reply:
    """Change a contact; omitted fields keep their value."""
    request = call.request
    data = await call.send(request)
    return Reply(f"Updated contact {_who(data)} ({', '.join(request.json)})", data)


async def plan_delete_contact(call: CallContext, input: ContactRef) -> Plan:
    """Who is deleted, read once: the person confirms a name and phone, not an id."""
    contact_id = input.contact_id
    contact = await call.api.call(CONTACT, path={"id": contact_id})
    line, who = people([contact], 1)
    return call.plan_from(
        Preview(action=f"Delete contact {line}", details={"who": who, "id": contact_id}), path={"id": contact_id}
    )


@toolset.tool(
    DELETE("/api/v1/contacts/{id}"), Effect.DELETE, plan=plan_delete_contact,
    example=Example({"contact_id": Made("id")}, first=("create_contact", {"name": "Old Lead", "phone": "+33698761235"})),
)
async def delete_contact(call: CallContext, args: ContactRef) -> Reply:
    """Delete one contact for good."""
    request = call.request
    data = await call.send(request)
    return Reply(f"Deleted contact {(request.path or {}).get('id')}", data)


async def read_contacts(api: Api, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The contacts behind `ids` (a few), and the ids that match none."""
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for contact_id in ids:
        try:
            found.append(await api.call(CONTACT, path={"id": contact_id}))
        except ApiError as exc:
            if exc.status != 404:
                raise
            missing.append(contact_id)
    return found, missing


class BulkDeleteInput(ToolInput):
    contact_ids: ContactIds | None = None
    tags: TagSelector | None = None


async def plan_bulk_delete_contacts(call: CallContext, input: BulkDeleteInput) -> Plan:
    """The one POST with explicit ids. A tag selector is resolved here, once: its ids go into the request
    body, so the digest covers exactly who is deleted and the body never resolves the tags again."""
    # Who: a tag selection was read whole (names at hand); for ids the first SAMPLE are read (one GET
    # each), since resolving up to 10,000 would cost as many requests.
    api = call.api
    chosen, selection = await resolve_selector(call, input.contact_ids, input.tags, verb="deleted")
    ids = list(dict.fromkeys(chosen))
    body = {"contactIds": ids}
    count = len(ids)
    if selection is not None and not ids:
        preview = Preview(action=f"Delete nothing: {selection.describe()}", blocked="no contact carries these tags")
        return call.plan_from(preview, json=body)
    mode = (
        "async bulk job (100+ ids): follow it with get_bulk_job_progress"
        if count >= ASYNC_THRESHOLD
        else "immediate (under 100 ids)"
    )
    found, missing = (selection.contacts, []) if selection else await read_contacts(api, ids[:SAMPLE])
    line, who = people(found, count)
    if selection is not None:  # which selector chose them, as the review card shows it
        who["selector"] = "contacts tagged " + " and ".join(one_line(tag, 40) for tag in selection.tags)
    preview = Preview(action=f"Delete {count} contact(s) permanently: {line}", details={"who": who, "mode": mode})
    if selection is not None:  # a tag selection: the exact people are part of what is confirmed
        preview.contact_ids = ids
    if missing:
        preview.warnings.append(f"{len(missing)} of the first {min(count, SAMPLE)} id(s) match no contact: {', '.join(missing)}")
    return call.plan_from(preview, json=body)


@toolset.tool(
    POST("/api/v1/contacts/bulk-delete"), Effect.DELETE, plan=plan_bulk_delete_contacts,
    example=Example({"contact_ids": [Seed("AWA_CONTACT_ID")]}),
)
async def bulk_delete_contacts(call: CallContext, args: BulkDeleteInput) -> Reply:
    """Delete many contacts at once, by ids or by tags; 100+ contacts return a bulk job."""
    # The ids are the plan's (a tag selection resolved by the planner and confirmed): nothing is re-read here.
    request = call.request
    data = await call.send(request)
    if is_job(data):
        return Reply(queued_summary(data, f"delete {len(request.json['contactIds'])} contacts"), data)
    missing = data.get("notFound") or []
    return Reply(f"Deleted {data.get('deleted')} of {data.get('requested')} contact(s); {len(missing)} not found", data)


@toolset.tool(CONTACT_GROUPS, Effect.READ, example=Example({"contact_id": Seed("AWA_CONTACT_ID")}))
async def get_contact_groups(call: CallContext, args: ContactRef) -> Reply:
    """The groups a contact belongs to."""
    data = await call.api(path={"id": args.contact_id})
    groups = data if isinstance(data, list) else []
    names = ", ".join(str(group.get("name")) for group in groups[:10])
    return Reply(f"In {len(groups)} group(s)" + (f": {names}" if names else ""), data)


# ---------------------------------------------------------------- bulk jobs


class ListJobsInput(ToolInput):
    limit: Limit | None = None
    cursor: Annotated[JobId | None, Field(description="next_cursor from the previous page")] = None


@toolset.tool(GET("/api/v1/contacts/bulk-jobs"), Effect.READ)
async def list_bulk_jobs(call: CallContext, args: ListJobsInput) -> Reply:
    """List bulk contact jobs (bulk delete, group add/remove), newest first."""
    data = await call.api(query={"limit": args.limit, "cursor": args.cursor})
    jobs = data.get("jobs") or []
    running = sum(1 for job in jobs if job.get("status") not in JOB_FINISHED)
    return Reply(f"{len(jobs)} bulk job(s), {running} running{_more(data)}", data, next_cursor=data.get("nextCursor"))


class JobRef(ToolInput):
    job_id: JobId


@toolset.tool(GET("/api/v1/contacts/bulk-jobs/{jobId}"), Effect.READ, example=A_RUNNING_JOB)
async def get_bulk_job(call: CallContext, args: JobRef) -> Reply:
    """One bulk job with its result summary or error."""
    data = await call.api(path={"jobId": args.job_id})
    return Reply(job_line(data), data)


class JobProgressInput(ToolInput):
    job_id: JobId
    wait_seconds: Annotated[
        int, Field(ge=0, le=MAX_WAIT, description="Wait up to this many seconds for it to finish")
    ] = 0


@toolset.tool(GET("/api/v1/contacts/bulk-jobs/{jobId}/progress"), Effect.READ, output=BulkJob, example=A_RUNNING_JOB)
async def get_bulk_job_progress(call: CallContext, args: JobProgressInput) -> Reply:
    """Progress of a bulk job; optionally wait for it to finish."""
    job_id = args.job_id
    data, waited = await follow(
        call, lambda: call.api(path={"jobId": job_id}), wait_seconds=args.wait_seconds, what="bulk job"
    )
    line = job_line(data)
    if data.get("status") not in JOB_FINISHED:
        line += f"; still running after waiting {waited:g} s: call again to keep following"
    return Reply(line, data)


@toolset.tool(
    POST("/api/v1/contacts/bulk-jobs/{jobId}/cancel"), Effect.WRITE,
    plan=single(lambda args: f"Cancel bulk job {args.job_id}"),
    example=A_RUNNING_JOB,
)
async def cancel_bulk_job(call: CallContext, args: JobRef) -> Reply:
    """Stop a pending or processing bulk job; work already done is kept."""
    data = await call.send_plan()
    return Reply("Cancelled: " + job_line(data), data)
