/**
 * The plan view the card renders (the shape is fixed by the server's `Plan.view()`; see
 * docs of server/apps). Older servers sent a flat preview ({action, recipients, urls, warnings, ...});
 * `planOf` reads both, so the card never shows less than the text result did.
 */
import { asRecord, asString } from "../shared/dom";

export interface Link { url: string; host: string }
export interface Plan {
  tool?: string;
  action: string;
  workspace?: string;
  digest?: string;
  who?: { count?: number; selector?: string; sample: { name?: string; phone?: string }[]; numbers: string[] };
  what?: {
    type?: string;
    template?: string;
    text?: string;
    title?: string;
    footer?: string;
    sample?: string; // the server's rendering for one real recipient (templates)
    sampleFor?: string;
    media?: string;
    buttons: { type?: string; label: string; target?: string }[];
  };
  links: Link[];
  when?: { utc?: string; local?: string; repeat?: string };
  cost?: { before?: number; after?: number; limit?: number };
  instance?: { name?: string; number?: string; state?: string };
  risk: string[];
  changes: string[];
  unfrozen?: string;
  details: [string, string][];
}

// Labels of the informational lines a plan may carry beside its structured parts (server `Preview.details`).
const LABELS: Record<string, string> = {
  contact: "Contact",
  mode: "How",
  quota: "Quota",
  repeats: "Repeats",
  group: "Group",
  members: "Members",
  title: "Title",
  footer: "Footer",
  variables: "Variables",
};
// Lines the card already shows from the structured parts (or that only a program needs): never repeated.
const SHOWN_ELSEWHERE = new Set([
  "tool", "action", "workspace", "digest", "who", "what", "when", "cost", "instance", "risk", "changes", "unfrozen",
  "recipients", "recipients are", "urls", "warnings", "blocked", "text", "type", "template", "buttons", "media",
  "media_url", "schedule (UTC)", "id", "title", "footer",
]);

/** A detail key as a person reads it: a known label, else the key in words ("send_at" -> "Send at"). */
export function labelOf(key: string): string {
  const words = LABELS[key] ?? key.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A detail value in words: text and numbers as they are, lists joined, a record as "key: value" pairs. */
function wordsOf(value: unknown): string | undefined {
  if (typeof value === "string" || typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) {
    const parts = value.map(wordsOf).filter((v): v is string => !!v);
    return parts.length ? parts.join(", ") : undefined;
  }
  const record = asRecord(value);
  const parts = Object.entries(record).flatMap(([k, v]) => {
    const shown = wordsOf(v);
    return shown ? [`${labelOf(k)}: ${shown}`] : [];
  });
  return parts.length ? parts.join("; ") : undefined;
}

const num = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(asString).filter((s): s is string => !!s) : []);

export function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}

export function planOf(preview: Record<string, unknown>): Plan {
  const who = asRecord(preview.who);
  const what = asRecord(preview.what);
  const when = asRecord(preview.when);
  const cost = asRecord(preview.cost);
  const instance = asRecord(preview.instance);
  const links: Link[] = [];
  const seen = new Set<string>();
  const addLink = (url: string | undefined, host?: string) => {
    if (!url || seen.has(url)) return;
    seen.add(url);
    links.push({ url, host: host || hostOf(url) });
  };
  for (const link of Array.isArray(what.links) ? what.links : []) addLink(asString(asRecord(link).url), asString(asRecord(link).host));
  for (const url of strings(preview.urls)) addLink(url);

  // Flat previews name the message parts at the top level: read them as `what` / `when`.
  const flatButtons = strings(preview.buttons).map((label) => ({ label }));
  const text = asString(what.text) ?? asString(preview.text);
  const media = asString(what.media) ?? asString(preview.media) ?? asString(preview.media_url);
  const utc = asString(when.utc) ?? asString(preview["schedule (UTC)"]);
  addLink(media);
  const details: [string, string][] = [];
  for (const [key, value] of Object.entries(preview)) {
    if (SHOWN_ELSEWHERE.has(key) || value === null || value === undefined) continue;
    const shown = wordsOf(value);
    if (shown) details.push([labelOf(key), shown]);
  }
  const count = num(who.count) ?? num(preview.recipients);
  return {
    tool: asString(preview.tool),
    action: asString(preview.action) ?? "Confirm this action",
    workspace: asString(preview.workspace),
    digest: asString(preview.digest),
    who: Object.keys(who).length || count !== undefined
      ? {
          count,
          selector: asString(who.selector),
          sample: (Array.isArray(who.sample) ? who.sample : []).map((s) => ({ name: asString(asRecord(s).name), phone: asString(asRecord(s).phone) })),
          numbers: strings(who.numbers),
        }
      : undefined,
    what: text || media || Array.isArray(what.buttons) || flatButtons.length
      ? {
          type: asString(what.type) ?? asString(preview.type),
          template: asString(what.template),
          text,
          title: asString(what.title) ?? asString(preview.title),
          footer: asString(what.footer) ?? asString(preview.footer),
          sample: asString(what.sample),
          sampleFor: asString(what.sample_for),
          media,
          buttons: Array.isArray(what.buttons)
            ? what.buttons.map((b) => ({
                type: asString(asRecord(b).type),
                label: asString(asRecord(b).label) ?? "",
                target: asString(asRecord(b).target),
              }))
            : flatButtons,
        }
      : undefined,
    links,
    when: utc || Object.keys(when).length ? { utc, local: asString(when.local), repeat: asString(when.repeat) } : undefined,
    cost: Object.keys(cost).length ? { before: num(cost.quota_before), after: num(cost.quota_after), limit: num(cost.limit) } : undefined,
    instance: typeof preview.instance === "string"
      ? { name: preview.instance }
      : Object.keys(instance).length ? { name: asString(instance.name), number: asString(instance.number), state: asString(instance.state) } : undefined,
    risk: [...new Set([...strings(preview.risk), ...strings(preview.warnings)])], // flat previews repeat risks as warnings
    changes: strings(preview.changes),
    unfrozen: asString(preview.unfrozen),
    details,
  };
}
