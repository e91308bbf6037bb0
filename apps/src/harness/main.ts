/**
 * Test-only host (tests/apps/harness.html): embeds one app in a sandboxed iframe and speaks the MCP Apps
 * protocol to it through the SDK's own host side, `AppBridge` + `PostMessageTransport`. Tool calls the app
 * makes are handed to `window.hostCallTool`, which the browser tests bind to a real MCP client session.
 */
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import type { McpUiHostContext, McpUiStyles } from "@modelcontextprotocol/ext-apps";

interface LoadOptions {
  html: string;
  toolName: string;
  toolArguments: Record<string, unknown>;
  toolResult: Record<string, unknown>;
  theme?: "light" | "dark"; // absent: a host that names no theme (the view follows prefers-color-scheme)
  styles?: Record<string, string>; // host style variables (McpUiStyles)
  serverTools?: boolean; // false: a host that cannot relay the view's tool calls (no `serverTools` capability)
  dropMeta?: boolean; // true: a host that does not pass the result's `_meta` to the view
}

declare global {
  interface Window {
    hostCallTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<any>;
    harness: { load(options: LoadOptions): Promise<void>; setTheme(theme: "light" | "dark"): void; ready: boolean };
    modelContext: unknown[];
    appCalls: string[];
  }
}

let bridge: AppBridge | undefined;
let context: McpUiHostContext = {};

async function load(options: LoadOptions): Promise<void> {
  if (options.theme) document.documentElement.dataset.theme = options.theme;
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts"); // what hosts do: no same-origin, no top navigation
  frame.title = options.toolName;
  document.getElementById("host")!.replaceChildren(frame);
  context = { timeZone: "America/Sao_Paulo", locale: "en-GB", displayMode: "inline", platform: "web" };
  if (options.theme) context.theme = options.theme;
  if (options.styles) context.styles = { variables: options.styles as McpUiStyles }; // hosts send any subset
  bridge = new AppBridge(
    null,
    { name: "msgflash-test-host", version: "1" },
    options.serverTools === false ? { updateModelContext: { text: {} } } : { serverTools: {}, updateModelContext: { text: {} } },
    { hostContext: context },
  );
  bridge.oncalltool = async (params) => {
    window.appCalls.push(params.name);
    return await window.hostCallTool({ name: params.name, arguments: params.arguments });
  };
  bridge.onupdatemodelcontext = async (params) => {
    window.modelContext.push(params);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    if (height) frame.style.height = `${height}px`;
  };
  const initialised = new Promise<void>((resolve) => {
    bridge!.oninitialized = () => resolve();
  });
  // Listen before the view loads, as hosts do: the view says ui/initialize as soon as its script runs.
  // (The iframe's WindowProxy stays the same object across the srcdoc navigation.)
  await bridge.connect(new PostMessageTransport(frame.contentWindow!, frame.contentWindow!));
  frame.srcdoc = options.html;
  await initialised;
  await bridge.sendToolInput({ arguments: options.toolArguments });
  const { _meta, ...withoutMeta } = options.toolResult;
  await bridge.sendToolResult((options.dropMeta ? withoutMeta : options.toolResult) as any);
}

window.modelContext = [];
window.appCalls = [];
window.harness = {
  load,
  setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    context = { ...context, theme };
    bridge?.setHostContext(context);
  },
  ready: true,
};
