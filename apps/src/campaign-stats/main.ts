/** ui://msgflash/campaign-stats — get_campaign_stats as a funnel: planned → sent → delivered → read, failed marked. */
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { bar } from "../shared/bars";
import { envelopeOf, errorText, startView } from "../shared/view";

const count = (stats: Record<string, unknown>, key: string): number => {
  const value = stats[key];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
};

startView("msgflash-campaign-stats", (result) => {
  const failed = errorText(result);
  if (failed) return mount(notice(failed));
  const envelope = envelopeOf(result);
  const campaign = asRecord(envelope.data);
  const stats = asRecord(campaign.stats);
  const planned = count(stats, "planned");
  const steps: [string, string][] = [["planned", "Planned"], ["sent", "Sent"], ["delivered", "Delivered"], ["read", "Read"]];
  const percent = (n: number) => (planned > 0 ? ` (${Math.round((n / planned) * 100)}%)` : "");
  const failures = count(stats, "failed");
  mount(
    h("h1", {}, asString(campaign.name) ?? "Campaign", " ", h("span", { class: "tag", "data-testid": "status" }, asString(campaign.status) ?? "?")),
    h("div", { class: "muted" }, [asString(campaign.id), envelope.workspace].filter(Boolean).join(" · ")),
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
