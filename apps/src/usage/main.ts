/** ui://msgflash/usage — get_usage as one gauge per quota; at 80% a gauge turns amber and says so. */
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { bar } from "../shared/bars";
import { envelopeOf, errorText, startView } from "../shared/view";

const WARN_AT = 0.8;

// [label, usage key, limit key] — the account's quotas as /usage reports them.
const QUOTAS: [string, string, string][] = [
  ["Outbound messages", "effectiveOutboundUsage", "monthlyOutboundQuota"],
  ["API requests", "apiRequestsCount", "monthlyApiRequestQuota"],
  ["Instances", "activeInstancesCount", "maxInstances"],
  ["API keys", "activeApiKeysCount", "maxApiKeys"],
];

startView("msgflash-usage", (result) => {
  const failed = errorText(result);
  if (failed) return mount(notice(failed));
  const data = asRecord(envelopeOf(result).data);
  const usage = asRecord(data.usage);
  const limits = asRecord(data.limits);
  const period = asRecord(data.period);
  const warnings: string[] = [];
  const gauges = QUOTAS.flatMap(([label, usedKey, limitKey]) => {
    const used = usage[usedKey];
    const limit = limits[limitKey];
    if (typeof used !== "number" || typeof limit !== "number" || limit <= 0) return [];
    const share = used / limit;
    const tone = share >= 1 ? "bad" : share >= WARN_AT ? "warn" : undefined;
    if (tone) warnings.push(`${label}: ${Math.round(share * 100)}% of the quota used`);
    return [bar({ label, value: used, max: limit, tone, text: `${formatNumber(used)} / ${formatNumber(limit)}`, testid: `gauge-${usedKey}` })];
  });
  mount(
    h("h1", {}, "Usage", " ", h("span", { class: "tag" }, asString(asRecord(data.plan).name) ?? "plan ?")),
    h("div", { class: "muted" }, period.start && period.end ? `${asString(period.start)?.slice(0, 10)} → ${asString(period.end)?.slice(0, 10)}` : ""),
    h("h2", {}, "Quotas"),
    h("div", { class: "bars" }, ...gauges),
    warnings.length
      ? h("ul", { class: "plain warn legend", "data-testid": "warnings" }, ...warnings.map((w) => h("li", {}, "⚠ ", w)))
      : h("p", { class: "legend muted" }, "All quotas below 80%."),
  );
});
