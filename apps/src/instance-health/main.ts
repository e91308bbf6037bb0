/** ui://msgflash/instance-health — get_instance_health: decision, risk, warm-up state, score, and the advice.
 * The health route names its instance by id only: the title asks get_instance for its name and number (when
 * the host relays the view's calls) and shows a short id until then, or without it. */
import { asRecord, asString, formatNumber, h, mount, notice } from "../shared/dom";
import { bar } from "../shared/bars";
import { envelopeOf, errorText, lookup, shortId, startView } from "../shared/view";

const tone = (value: string | undefined, good: string[], bad: string[]): string =>
  value && good.includes(value) ? "ok" : value && bad.includes(value) ? "bad" : "warn";

// The API's decision codes, in words (unknown ones are shown as they come).
const DECISIONS: Record<string, string> = { allow: "allowed", warn: "allowed, with care", block: "blocked", deny: "blocked" };

const items = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [])
    .map((v) => asString(v) ?? asString(asRecord(v).message) ?? asString(asRecord(v).text))
    .filter((v): v is string => v !== undefined); // an item without words is not shown as raw data

startView("msgflash-instance-health", (result, state) => {
  const failed = errorText(result);
  if (failed) return mount(notice(failed));
  const data = asRecord(envelopeOf(result).data);
  const decision = asString(data.decision);
  const risk = asString(data.riskLevel);
  const score = typeof data.score === "number" ? data.score : undefined;
  const advice = items(data.recommendations);
  const reasons = items(data.reasons);
  const id = asString(data.instanceId) ?? asString(state.args.instance_id);
  const subject = h("span", { class: "subject", "data-testid": "subject" }, `instance ${shortId(id) ?? "?"}`);
  const number = h("div", { class: "muted", "data-testid": "number" });
  if (id) {
    void lookup(state, "get_instance", { instance_id: id }).then((found) => {
      const name = asString(found?.name);
      if (name) subject.textContent = name;
      number.textContent = asString(found?.waNumber) ?? "";
    });
  }
  mount(
    h("h1", {}, "Health of ", subject),
    number,
    h(
      "p",
      {},
      h("span", { class: `tag ${tone(decision, ["allow"], ["block", "deny"])}`, "data-testid": "decision" }, `Sending: ${DECISIONS[decision ?? ""] ?? decision ?? "?"}`), " ",
      h("span", { class: `tag ${tone(risk, ["low"], ["high", "critical"])}`, "data-testid": "risk" }, `Risk: ${risk ?? "?"}`), " ",
      h("span", { class: "tag", "data-testid": "state" }, `State: ${asString(data.state) ?? "?"}`),
    ),
    score !== undefined ? bar({ label: "Health score", value: score, max: 100, tone: score < 40 ? "bad" : score < 60 ? "warn" : undefined, text: `${formatNumber(score)} / 100`, testid: "score" }) : null,
    h("h2", {}, "Advice"),
    advice.length ? h("ul", { "data-testid": "advice" }, ...advice.map((a) => h("li", {}, a))) : h("p", { class: "muted", "data-testid": "advice" }, "No advice: nothing to change."),
    reasons.length ? h("section", {}, h("h2", {}, "Why"), h("ul", {}, ...reasons.map((r) => h("li", {}, r)))) : null,
  );
});
