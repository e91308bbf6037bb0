/**
 * ui://msgflash/review — the plan of a guarded action, as the person will experience it, with Approve and
 * Cancel. Approve calls the app-only tool `app_approve`, which redeems the plan's single-use confirmation
 * through the same guarded path as the token (the server re-checks the plan digest); the model never sees
 * the confirmation, so only a person's click can use it.
 *
 * Never a dead end: a host that cannot relay the card's calls, a result whose `_meta` (the confirmation)
 * did not arrive, or a confirmation gone stale each get plain words and a way forward (review again
 * through `app_refresh`, or confirm in the conversation).
 */
import type { ToolResult } from "../shared/bridge";
import type { Envelope, ViewState } from "../shared/view";
import { envelopeOf, errorText, startView } from "../shared/view";
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { hostTimeZone } from "../shared/theme";
import { localTime, utcTime } from "../shared/time";
import { type Link, type Plan, planOf } from "./plan";

const CONFIRM_META = "io.msgflash/confirm";
const PREVIEW_ID = 8; // hex characters of the plan digest shown, as a small "preview id"

interface Confirmation {
  token: string;
  tool: string;
  arguments: Record<string, unknown>;
  effect?: string; // send | delete | admin
}

function confirmationOf(result: ToolResult): Confirmation | undefined {
  const meta = asRecord(asRecord((result as { _meta?: unknown })._meta)[CONFIRM_META]);
  const token = asString(meta.token);
  const tool = asString(meta.tool);
  return token && tool ? { token, tool, arguments: asRecord(meta.arguments), effect: asString(meta.effect) } : undefined;
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

/** The card's title: the action, without the list of names it may end with (the card lists the people
 * below), and a name the server quoted for the model (third-party text) shown as a name. */
function headline(plan: Plan): string {
  const first = plan.who?.sample[0]?.name;
  if (!first) return plan.action;
  const cut = plan.action.indexOf(": ");
  if (cut > 0 && plan.action.slice(cut).includes(first)) return plan.action.slice(0, cut);
  return plan.action.replace(`"${first}"`, first);
}

function bubble(plan: Plan): HTMLElement | null {
  const what = plan.what;
  if (!what) return null;
  const mediaHost = what.media ? planLinkHost(plan, what.media) : "";
  // A template is filled in per recipient: the bubble shows the server's rendering for one real recipient,
  // named; the raw template (placeholders and all) is shown apart, as the template.
  const shown = what.sample ?? what.text;
  const caption = what.sample
    ? `What ${what.sampleFor ?? "the first recipient"} will read`
    : what.template
      ? "The template as written: placeholders are filled in for each recipient"
      : null;
  return h(
    "section",
    { "aria-label": "Message" },
    h("h2", {}, "Message", what.template ? ` · template ${what.template}` : ""),
    h(
      "div",
      { class: "chat" },
      h(
        "div",
        { class: "bubble", "data-testid": "bubble" },
        // Media is named, not loaded: the view makes no network request, and a preview must not ping the sender's tracker.
        what.media ? h("span", { class: "media", "data-testid": "media" }, "Media from ", h("b", {}, mediaHost || what.media)) : null,
        what.title ? h("div", { class: "title" }, what.title) : null,
        shown ? h("div", { class: "text", "data-testid": "text" }, shown) : null,
        what.footer ? h("div", { class: "footer" }, what.footer) : null,
        what.buttons.length
          // What each button does is decisive (the number it calls, the code it copies, the link it opens), so it is
          // printed under its label, not left to a hover no touch screen has.
          ? h("div", { class: "buttons", "data-testid": "buttons" }, ...what.buttons.map((b) =>
              h("span", {}, b.label, b.target ? h("small", { class: "target" }, b.target) : null)))
          : null,
      ),
      caption ? h("div", { class: "sample muted", "data-testid": "sample-for" }, caption) : null,
    ),
    what.sample && what.text && what.text !== what.sample
      ? h("div", { class: "template" }, h("span", { class: "muted" }, "Template, filled in for each recipient: "), h("span", { "data-testid": "template-text" }, what.text))
      : null,
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
    who.selector ? h("div", { class: "muted", "data-testid": "selector" }, "Chosen by: ", who.selector) : null,
    shown.length ? h("ul", { class: "plain", "data-testid": "recipients" }, ...shown.slice(0, 5).map((p) => h("li", {}, p))) : null,
    more > 0 && shown.length ? h("div", { class: "muted" }, `and ${formatNumber(more)} more`) : null,
  );
}

/** "3,674 left of 5,000 after this": amber when under a fifth is left, red under a twentieth or when short. */
function quota(cost: NonNullable<Plan["cost"]>): HTMLElement | null {
  const { before, after, limit } = cost;
  if (after === undefined || limit === undefined || limit <= 0) return null;
  const uses = before !== undefined ? before - after : undefined;
  const share = after / limit;
  const tone = after < 0 || share < 0.05 ? "bad" : share < 0.2 ? "warn" : "";
  const words = after < 0
    ? `not enough: ${formatNumber(before)} left of ${formatNumber(limit)}, this needs ${formatNumber(uses)}`
    : `${formatNumber(after)} left of ${formatNumber(limit)} after this`;
  const why = tone === "bad" && after >= 0 ? " · almost none left this month" : tone === "warn" ? " · little left this month" : "";
  return h(
    "span",
    { class: `quota ${tone}`, "data-testid": "quota", "data-tone": tone || "ok" },
    words,
    uses !== undefined && after >= 0 ? h("span", { class: "muted" }, ` (uses ${formatNumber(uses)})`) : null,
    why,
  );
}

function facts(plan: Plan, state: ViewState): HTMLElement {
  const rows: HTMLElement[] = [];
  const row = (label: string, testid: string | undefined, ...value: (Node | string | null)[]) =>
    rows.push(h("dt", {}, label), h("dd", { "data-testid": testid }, ...value));
  if (plan.instance) {
    const connection = plan.instance.state;
    row(
      "From",
      "instance",
      [plan.instance.name, plan.instance.number].filter(Boolean).join(" · ") + " ",
      connection ? h("span", { class: `tag ${connection === "connected" ? "ok" : "bad"}`, "data-testid": "instance-state" }, connection) : "",
    );
  }
  const utc = utcTime(plan.when?.utc);
  if (utc) {
    const local = localTime(plan.when?.utc, hostTimeZone(state.context));
    if (local) row("When", "when-local", local);
    row(local ? "In UTC" : "When", "when-utc", utc);
    if (plan.when?.repeat && plan.when.repeat !== "none") row("Repeats", "repeats", plan.when.repeat);
  } else if (plan.what) {
    row("When", "when-local", "now, as soon as you approve");
  }
  const left = plan.cost ? quota(plan.cost) : null;
  if (left) row("Monthly quota", undefined, left);
  for (const [label, value] of plan.details) row(label, undefined, value);
  return h("dl", { class: "facts" }, ...rows);
}

function list(title: string, items: string[], className: string, testid: string): HTMLElement | null {
  if (!items.length) return null;
  return h("section", { "aria-label": title }, h("h2", {}, title), h("ul", { class: `plain ${className}`, "data-testid": testid }, ...items.map((i) => h("li", {}, i))));
}

/** Why this card cannot act, in plain words, and the way forward; null when it can. */
function deadEnd(envelope: Envelope, confirmation: Confirmation | undefined, state: ViewState, refreshed: boolean): string | null {
  const inConversation = "To go ahead, tell the assistant in the conversation that you approve: it will confirm it with you there.";
  if (envelope.confirm_token) return "The assistant will ask you to confirm this in the conversation; nothing has been sent yet.";
  if (!state.bridge.canCallTools) return `Your app cannot pass a decision from this card to MsgFlash, so nothing has been sent. ${inConversation}`;
  if (confirmation) return null;
  return refreshed
    ? `Your app still did not pass this card its confirmation, so nothing has been sent. ${inConversation}`
    : "Your app did not pass this card its confirmation, so it cannot approve yet and nothing has been sent. Review again to get a fresh one.";
}

function render(result: ToolResult, state: ViewState, refreshed = false): void {
  const failed = errorText(result);
  if (failed) return mount(h("h1", {}, "Not sent"), notice(failed));
  const envelope = envelopeOf(result);
  const preview = asRecord(envelope.preview);
  if (envelope.status !== "confirmation_required" && envelope.status !== "dry_run") {
    return mount(h("h1", {}, envelope.status === "declined" ? "Not done" : "Done"), notice(envelope.summary ?? ""));
  }
  const plan = planOf(preview);
  const confirmation = confirmationOf(result);
  const destructive = confirmation?.effect === "delete";
  const outcome = h("div", { class: "outcome", role: "status", tabindex: "-1", "data-testid": "outcome", hidden: true });
  const approve = h("button", { type: "button", class: destructive ? "approve danger" : "approve", "data-testid": "approve" }, destructive ? "Delete" : "Approve") as HTMLButtonElement;
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
      if (failure) show(`Not sent: ${failure}`, "bad");
      else if (done.status === "confirmation_required") return render(answer, state); // changed or stale: the new plan
      else show(done.summary ?? "Done.", tool === "app_approve" ? "ok" : "muted");
      void state.bridge.updateModelContext(
        tool === "app_approve" ? `The user approved in the review card: ${failure ?? done.summary ?? ""}` : "The user cancelled in the review card; nothing was sent.",
      ).catch(() => undefined);
    } catch (error) {
      show(`Could not reach MsgFlash (${(error as Error).message}); nothing was confirmed.`, "bad");
    }
  };
  approve.addEventListener("click", () => void decide("app_approve"));
  cancel.addEventListener("click", () => void decide("app_cancel"));

  const stuck = envelope.status === "dry_run" ? null : deadEnd(envelope, confirmation, state, refreshed);
  const canRefresh = stuck !== null && !refreshed && !confirmation && state.bridge.canCallTools && !envelope.confirm_token;
  const refresh = h("button", { type: "button", class: "refresh", "data-testid": "refresh" }, "Review again") as HTMLButtonElement;
  refresh.addEventListener("click", async () => {
    if (refresh.disabled) return;
    refresh.disabled = true;
    try {
      const answer = await state.bridge.callTool("app_refresh", { tool: plan.tool ?? "", arguments: state.args });
      render(answer, state, true);
    } catch (error) {
      show(`Could not reach MsgFlash (${(error as Error).message}); nothing was sent.`, "bad");
    }
  });

  mount(
    h(
      "div",
      { class: "head" },
      h("h1", { "data-testid": "action" }, headline(plan)),
      plan.workspace ?? envelope.workspace ? h("span", { class: "tag", "data-testid": "workspace" }, plan.workspace ?? envelope.workspace ?? "") : null,
    ),
    envelope.note ? h("p", { class: "outcome warn", "data-testid": "note" }, envelope.note) : null,
    list("What changed since the last preview", plan.changes, "changes warn", "changes"),
    bubble(plan),
    recipients(plan),
    h("section", { "aria-label": "Details" }, h("h2", {}, "Details"), facts(plan, state)),
    plan.links.length ? h("section", { "aria-label": "Links" }, h("h2", {}, "Links"), h("ul", { class: "plain links", "data-testid": "links" }, ...plan.links.map(linkItem))) : null,
    list("Risks", plan.risk, "risks warn", "risks"),
    plan.unfrozen ? h("p", { class: "muted" }, plan.unfrozen.charAt(0).toUpperCase() + plan.unfrozen.slice(1), ".") : null,
    envelope.status === "dry_run"
      ? notice("Dry run: nothing will be sent.")
      : stuck
        ? h("div", { class: "dead-end" }, h("p", { class: "notice", role: "status", "data-testid": "dead-end" }, stuck), canRefresh ? h("div", { class: "actions" }, refresh) : null)
        : h("div", { class: "actions" }, cancel, approve),
    outcome,
    plan.digest ? h("div", { class: "muted preview-id", "data-testid": "preview-id" }, `Preview id ${plan.digest.slice(0, PREVIEW_ID)}`) : null,
  );
}

startView("msgflash-review", render);
