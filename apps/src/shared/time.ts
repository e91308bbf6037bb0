/** Times as people read them: "1 Dec 2026, 10:00 UTC", and the same moment in their own zone. */

const PARTS: Intl.DateTimeFormatOptions = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

function parse(iso: string | undefined): Date | undefined {
  if (!iso) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function utcTime(iso: string | undefined): string | undefined {
  const date = parse(iso);
  return date && `${date.toLocaleString("en-GB", { ...PARTS, timeZone: "UTC" })} UTC`;
}

/** The moment in `zone` (the host's, else the browser's), named; undefined when that zone is UTC itself. */
export function localTime(iso: string | undefined, zone: string | undefined): string | undefined {
  const date = parse(iso);
  if (!date) return undefined;
  let name = zone;
  try {
    name = zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!name || name === "UTC" || name === "Etc/UTC") return undefined;
    return `${date.toLocaleString("en-GB", { ...PARTS, timeZone: name })} (${name.replaceAll("_", " ")})`;
  } catch {
    return undefined; // an unknown zone name: the UTC line alone is still right
  }
}
