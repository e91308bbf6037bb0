/** Host theming: the host's light/dark choice and its style variables (the CSS falls back to its own). Until
 * the host names a theme (and when it never does), the OS preference (`prefers-color-scheme`) decides. */
import type { McpUiHostContext, McpUiStyleVariableKey } from "@modelcontextprotocol/ext-apps";

type Theme = "light" | "dark";
let hostTheme = false; // once the host chose, the OS preference no longer applies

function setTheme(theme: Theme): void {
  const root = document.documentElement;
  root.dataset.theme = theme;
  root.style.colorScheme = theme;
}

/** Follows the OS light/dark preference for as long as the host has not named a theme. */
export function followSystemTheme(): void {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    if (!hostTheme) setTheme(dark.matches ? "dark" : "light");
  };
  apply();
  dark.addEventListener("change", apply);
}

export function applyHostContext(context: McpUiHostContext): void {
  if (context.theme === "light" || context.theme === "dark") {
    hostTheme = true;
    setTheme(context.theme);
  }
  const root = document.documentElement;
  const variables = context.styles?.variables ?? {};
  for (const [name, value] of Object.entries(variables) as [McpUiStyleVariableKey, string | undefined][]) {
    // Only custom properties: a host can restyle the view's palette, never inject arbitrary CSS.
    if (name.startsWith("--") && typeof value === "string") root.style.setProperty(name, value);
  }
}

/** Where to show local times: the host's time zone when it told us, else the browser's. */
export function hostTimeZone(context: McpUiHostContext | undefined): string | undefined {
  return typeof context?.timeZone === "string" ? context.timeZone : undefined;
}
