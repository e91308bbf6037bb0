/** ui://msgflash/campaign-stats — get_campaign_stats as a funnel: planned → sent → delivered → read, failed marked.
 * The stats route does not name its campaign: the title asks get_campaign for the name (when the host relays
 * the view's calls) and shows a short id until then, or without it. */
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { bar } from "../shared/bars";
import { envelopeOf, errorText, lookup, shortId, startView } from "../shared/view";

const count = (stats: Record<string, unknown>, key: string): number => {
  const value = stats[key];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
};

startView("msgflash-campaign-stats", (result, state) => {
  const failed = errorText(result);
  if (failed) return mount(notice(failed));
  const envelope = envelopeOf(result);
  const campaign = asRecord(envelope.data);
  const stats = asRecord(campaign.stats);
  const planned = count(stats, "planned");
  const steps: [string, string][] = [["planned", "Planned"], ["sent", "Sent"], ["delivered", "Delivered"], ["read", "Read"]];
  const percent = (n: number) => (planned > 0 ? ` (${Math.round((n / planned) * 100)}%)` : "");
  const failures = count(stats, "failed");
  const id = asString(campaign.campaignId) ?? asString(campaign.id) ?? asString(state.args.campaign_id);
  const subject = h("span", { class: "subject", "data-testid": "subject" }, asString(campaign.name) ?? `Campaign ${shortId(id) ?? ""}`.trim());
  if (!asString(campaign.name) && id) {
    void lookup(state, "get_campaign", { campaign_id: id }).then((found) => {
      const name = asString(found?.name);
      if (name) subject.textContent = `Campaign ${name}`;
    });
  }
  mount(
    h("h1", {}, subject, " ", h("span", { class: "tag", "data-testid": "status" }, asString(campaign.status) ?? "?")),
    h("div", { class: "muted" }, envelope.workspace ?? ""),
    h("h2", {}, "Delivery funnel"),
    h(
      "div",
      { class: "bars", "data-testid": "funnel" },
      ...steps.map(([key, label]) => bar({ label, value: count(stats, key), max: planned, text: formatNumber(count(stats, key)) + percent(count(stats, key)), testid: `step-${key}` })),
      bar({ label: "Failed", value: failures, max: planned, tone: "bad", text: formatNumber(failures) + percent(failures), testid: "step-failed" }),
    ),
    h(
      "p",
      { class: "legend muted" },
      `Queued ${formatNumber(count(stats, "queued"))} · cancelled ${formatNumber(count(stats, "cancelled"))}`,
      failures > 0 ? h("span", { class: "bad" }, ` · ${formatNumber(failures)} failed`) : null,
    ),
  );
});
