/** Host theming: the host's light/dark choice and its style variables (the CSS falls back to its own). */
import type { McpUiHostContext, McpUiStyleVariableKey } from "@modelcontextprotocol/ext-apps";

export function applyHostContext(context: McpUiHostContext): void {
  const root = document.documentElement;
  if (context.theme === "light" || context.theme === "dark") {
    root.dataset.theme = context.theme;
    root.style.colorScheme = context.theme;
  }
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
