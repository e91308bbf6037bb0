/**
 * ui://msgflash/review — the plan of a guarded action, as the person will experience it, with Approve and
 * Cancel. Approve calls the app-only tool `app_approve`, which redeems the plan's single-use confirmation
 * through the same guarded path as the token (the server re-checks the plan digest); the model never sees
 * the confirmation, so only a person's click can use it.
 */
import type { ToolResult } from "../shared/bridge";
import type { ViewState } from "../shared/view";
import { envelopeOf, errorText, startView } from "../shared/view";
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { hostTimeZone } from "../shared/theme";
import { type Link, type Plan, planOf } from "./plan";

const CONFIRM_META = "io.msgflash/confirm";

interface Confirmation {
  token: string;
  tool: string;
  arguments: Record<string, unknown>;
}

function confirmationOf(result: ToolResult): Confirmation | undefined {
  const meta = asRecord(asRecord((result as { _meta?: unknown })._meta)[CONFIRM_META]);
  const token = asString(meta.token);
  const tool = asString(meta.tool);
  return token && tool ? { token, tool, arguments: asRecord(meta.arguments) } : undefined;
}

function linkItem(link: Link): HTMLElement {
  const at = link.host ? link.url.indexOf(link.host) : -1;
  if (at < 0) return h("li", {}, h("span", { class: "host" }, link.host || "(no host)"), " ", h("span", { class: "rest" }, link.url));
  return h(
    "li",
    {},
    h("span", { class: "rest" }, link.url.slice(0, at)),
    h("span", { class: "host", "data-host": link.host }, link.host),
    h("span", { class: "rest" }, link.url.slice(at + link.host.length)),
  );
}

function localTime(utc: string | undefined, state: ViewState): string | undefined {
  if (!utc) return undefined;
  const date = new Date(utc);
  if (Number.isNaN(date.getTime())) return undefined;
  const zone = hostTimeZone(state.context);
  try {
    return date.toLocaleString("en-GB", {
      timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    }) + (zone ? ` (${zone})` : "");
  } catch {
    return date.toLocaleString("en-GB");
  }
}

function bubble(plan: Plan): HTMLElement | null {
  const what = plan.what;
  if (!what) return null;
  const mediaHost = what.media ? planLinkHost(plan, what.media) : "";
  return h(
    "section",
    { "aria-label": "Message" },
    h("h2", {}, "Message", what.template ? ` · template ${what.template}` : "", what.type ? ` · ${what.type}` : ""),
    h(
      "div",
      { class: "chat" },
      h(
        "div",
        { class: "bubble", "data-testid": "bubble" },
        // Media is named, not loaded: the view makes no network request, and a preview must not ping the sender's tracker.
        what.media ? h("span", { class: "media", "data-testid": "media" }, "Media from ", h("b", {}, mediaHost || what.media)) : null,
        what.text ? h("div", { class: "text", "data-testid": "text" }, what.text) : null,
        what.buttons.length
          ? h("div", { class: "buttons" }, ...what.buttons.map((b) => h("span", { title: b.target ?? "" }, b.label)))
          : null,
      ),
      what.sampleFor ? h("div", { class: "sample muted" }, `Rendered for ${what.sampleFor}`) : null,
    ),
  );
}

function planLinkHost(plan: Plan, url: string): string {
  return plan.links.find((l) => l.url === url)?.host ?? "";
}

function recipients(plan: Plan): HTMLElement | null {
  const who = plan.who;
  if (!who) return null;
  const people = who.sample.map((p) => [p.name, p.phone].filter(Boolean).join(" · "));
  const shown = people.length ? people : who.numbers;
  const more = who.count !== undefined ? who.count - shown.length : 0;
  return h(
    "section",
    { "aria-label": "Recipients" },
    h("h2", {}, plan.what ? "Recipients" : "Affects"), // a delete has people it affects, not recipients
    h("div", {}, h("strong", { "data-testid": "recipient-count" }, formatNumber(who.count)), who.count === 1 ? " person" : " people"),
    who.selector ? h("div", { class: "muted" }, who.selector) : null,
    shown.length ? h("ul", { class: "plain", "data-testid": "recipients" }, ...shown.slice(0, 5).map((p) => h("li", {}, p))) : null,
    more > 0 && shown.length ? h("div", { class: "muted" }, `and ${formatNumber(more)} more`) : null,
  );
}

function facts(plan: Plan, state: ViewState): HTMLElement {
  const rows: HTMLElement[] = [];
  const row = (label: string, ...value: (Node | string)[]) => rows.push(h("dt", {}, label), h("dd", {}, ...value));
  if (plan.instance) {
    const connection = plan.instance.state;
    row(
      "Instance",
      [plan.instance.name, plan.instance.number].filter(Boolean).join(" · ") + " ",
      connection ? h("span", { class: `tag ${connection === "connected" ? "ok" : "bad"}`, "data-testid": "instance-state" }, connection) : "",
    );
  }
  if (plan.when) {
    row("When (UTC)", plan.when.utc ?? "now");
    const local = plan.when.local ?? localTime(plan.when.utc, state);
    if (local) row("Local time", local);
    if (plan.when.repeat && plan.when.repeat !== "none") row("Repeats", plan.when.repeat);
  }
  if (plan.cost) {
    const { before, after, limit } = plan.cost;
    const tight = limit !== undefined && after !== undefined && after > limit * 0.8;
    row("Quota", h("span", { class: `quota ${tight ? "warn" : ""}`, "data-testid": "quota" }, `${formatNumber(before)} → ${formatNumber(after)}`, limit !== undefined ? ` of ${formatNumber(limit)}` : ""));
  }
  for (const [key, value] of plan.details) row(key, value);
  return h("dl", { class: "facts" }, ...rows);
}

function list(title: string, items: string[], className: string, testid: string): HTMLElement | null {
  if (!items.length) return null;
  return h("section", { "aria-label": title }, h("h2", {}, title), h("ul", { class: `plain ${className}`, "data-testid": testid }, ...items.map((i) => h("li", {}, i))));
}

function render(result: ToolResult, state: ViewState): void {
  const failed = errorText(result);
  if (failed) return mount(h("h1", {}, "Not sent"), notice(failed));
  const envelope = envelopeOf(result);
  const preview = asRecord(envelope.preview);
  if (envelope.status !== "confirmation_required" && envelope.status !== "dry_run") {
    return mount(h("h1", {}, envelope.status === "declined" ? "Not done" : "Done"), notice(envelope.summary ?? ""));
  }
  const plan = planOf(preview);
  const confirmation = confirmationOf(result);
  const outcome = h("div", { class: "outcome", role: "status", tabindex: "-1", "data-testid": "outcome", hidden: true });
  const approve = h("button", { type: "button", class: "approve", "data-testid": "approve" }, "Approve") as HTMLButtonElement;
  const cancel = h("button", { type: "button", class: "cancel", "data-testid": "cancel" }, "Cancel") as HTMLButtonElement;
  const show = (text: string, tone: string) => {
    outcome.hidden = false;
    outcome.className = `outcome ${tone}`;
    outcome.textContent = text;
    outcome.focus();
  };
  const decide = async (tool: "app_approve" | "app_cancel") => {
    if (!confirmation || approve.disabled) return; // one decision per card: a second click does nothing
    approve.disabled = cancel.disabled = true;
    try {
      const answer = await state.bridge.callTool(tool, { tool: confirmation.tool, arguments: confirmation.arguments, confirm_token: confirmation.token });
      const failure = errorText(answer);
      const done = envelopeOf(answer);
      if (failure) show(failure, "bad");
      else if (done.status === "confirmation_required") return render(answer, state); // the plan changed: show the new one
      else show(done.summary ?? "Done.", tool === "app_approve" ? "ok" : "muted");
      void state.bridge.updateModelContext(
        tool === "app_approve" ? `The user approved in the review card: ${failure ?? done.summary ?? ""}` : "The user cancelled in the review card; nothing was sent.",
      ).catch(() => undefined);
    } catch (error) {
      show(`Could not reach the server: ${(error as Error).message}. Nothing was confirmed.`, "bad");
    }
  };
  approve.addEventListener("click", () => void decide("app_approve"));
  cancel.addEventListener("click", () => void decide("app_cancel"));

  mount(
    h(
      "div",
      { class: "head" },
      h("h1", { "data-testid": "action" }, plan.action),
      plan.workspace ?? envelope.workspace ? h("span", { class: "tag", "data-testid": "workspace" }, plan.workspace ?? envelope.workspace ?? "") : null,
    ),
    plan.digest ? h("div", { class: "muted digest", title: plan.digest }, `plan ${plan.digest.slice(0, 16)}`) : null,
    list("What changed since the last preview", plan.changes, "changes warn", "changes"),
    bubble(plan),
    recipients(plan),
    h("section", { "aria-label": "Details" }, h("h2", {}, "Details"), facts(plan, state)),
    plan.links.length ? h("section", { "aria-label": "Links" }, h("h2", {}, "Links"), h("ul", { class: "plain links", "data-testid": "links" }, ...plan.links.map(linkItem))) : null,
    list("Risks", plan.risk, "risks warn", "risks"),
    plan.unfrozen ? h("p", { class: "muted" }, plan.unfrozen) : null,
    envelope.status === "dry_run"
      ? notice("Dry run: nothing will be sent.")
      : confirmation
        ? h("div", { class: "actions" }, cancel, approve)
        : notice("Confirm in the conversation: this card has no confirmation to redeem."),
    outcome,
  );
}

startView("msgflash-review", render);
