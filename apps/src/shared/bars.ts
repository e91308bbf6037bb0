/** Horizontal bars (funnel steps, quota gauges): one row = label, track, value; exposed as a meter. */
import { formatNumber, h } from "./dom";

export interface BarSpec {
  label: string;
  value: number;
  max: number;
  tone?: "warn" | "bad";
  text?: string; // what to print beside the bar; default the value
  testid?: string;
}

export function bar(spec: BarSpec): HTMLElement {
  const share = spec.max > 0 ? Math.max(0, Math.min(1, spec.value / spec.max)) : 0;
  const fill = h("div", { class: "fill" });
  fill.style.width = `${(share * 100).toFixed(1)}%`; // CSSOM, allowed by the view's CSP (no style attributes)
  return h(
    "div",
    {
      class: `bar ${spec.tone ?? ""}`,
      role: "meter",
      "aria-label": spec.label,
      "aria-valuemin": "0",
      "aria-valuemax": String(spec.max),
      "aria-valuenow": String(spec.value),
      "data-testid": spec.testid,
    },
    h("span", { class: "label" }, spec.label),
    h("div", { class: "track" }, fill),
    h("span", { class: "value" }, spec.text ?? formatNumber(spec.value)),
  );
}
