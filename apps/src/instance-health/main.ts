/** ui://msgflash/instance-health — get_instance_health: decision, risk, warm-up state, score, and the advice. */
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { bar } from "../shared/bars";
import { envelopeOf, errorText, startView } from "../shared/view";

const tone = (value: string | undefined, good: string[], bad: string[]): string =>
  value && good.includes(value) ? "ok" : value && bad.includes(value) ? "bad" : "warn";

const items = (value: unknown): string[] =>
  (Array.isArray(value) ? value : []).map((v) => asString(v) ?? asString(asRecord(v).message) ?? asString(asRecord(v).text) ?? JSON.stringify(v));

startView("msgflash-instance-health", (result) => {
  const failed = errorText(result);
  if (failed) return mount(notice(failed));
  const data = asRecord(envelopeOf(result).data);
  const decision = asString(data.decision);
  const risk = asString(data.riskLevel);
  const score = typeof data.score === "number" ? data.score : undefined;
  const advice = items(data.recommendations);
  const reasons = items(data.reasons);
  mount(
    h("h1", {}, "Instance health"),
    h("div", { class: "muted" }, asString(data.instanceId) ?? ""),
    h(
      "p",
      {},
      h("span", { class: `tag ${tone(decision, ["allow"], ["block", "deny"])}`, "data-testid": "decision" }, `decision: ${decision ?? "?"}`), " ",
      h("span", { class: `tag ${tone(risk, ["low"], ["high", "critical"])}`, "data-testid": "risk" }, `risk: ${risk ?? "?"}`), " ",
      h("span", { class: "tag", "data-testid": "state" }, `state: ${asString(data.state) ?? "?"}`),
    ),
    score !== undefined ? bar({ label: "Health score", value: score, max: 100, tone: score < 40 ? "bad" : score < 60 ? "warn" : undefined, text: `${formatNumber(score)} / 100`, testid: "score" }) : null,
    h("h2", {}, "Advice"),
    advice.length ? h("ul", { "data-testid": "advice" }, ...advice.map((a) => h("li", {}, a))) : h("p", { class: "muted", "data-testid": "advice" }, "No advice: nothing to change."),
    reasons.length ? h("section", {}, h("h2", {}, "Why"), h("ul", {}, ...reasons.map((r) => h("li", {}, r)))) : null,
  );
});
