/**
 * The View side of the MCP Apps postMessage protocol, in a few hundred bytes.
 *
 * Why not the SDK's `App` class: bundled with its runtime dependencies (the MCP client core and zod)
 * it weighs ~650 KB, four times the 150 KB budget of one app. The wire shapes below are the SDK's own
 * types (`@modelcontextprotocol/ext-apps`, type-only imports, checked by `tsc` at build time), and the
 * browser tests drive this bridge with the SDK's real host side (`AppBridge`), so a drift fails there.
 */
import type {
  McpUiHostCapabilities,
  McpUiHostContext,
  McpUiInitializeRequest,
  McpUiInitializeResult,
  McpUiSizeChangedNotification,
  McpUiToolInputNotification,
  McpUiToolResultNotification,
  McpUiUpdateModelContextRequest,
} from "@modelcontextprotocol/ext-apps";

declare const __UI_PROTOCOL_VERSION__: string; // the SDK's LATEST_PROTOCOL_VERSION, injected by build.mjs

export type ToolResult = McpUiToolResultNotification["params"];
export type ToolArguments = NonNullable<McpUiToolInputNotification["params"]["arguments"]>;

export interface ViewHandlers {
  toolInput?(args: ToolArguments): void;
  toolResult?(result: ToolResult): void;
  hostContext?(context: McpUiHostContext): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class HostBridge {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly host: Window = window.parent;
  /** What the host said it can do (`ui/initialize`); empty until it answered. */
  hostCapabilities: McpUiHostCapabilities = {};

  constructor(private readonly handlers: ViewHandlers) {
    window.addEventListener("message", (event) => this.receive(event));
  }

  /** `ui/initialize` then `ui/notifications/initialized`: after this the host sends tool input and result. */
  async connect(name: string): Promise<McpUiInitializeResult> {
    const params: McpUiInitializeRequest["params"] = {
      appInfo: { name, version: "1" },
      appCapabilities: {},
      protocolVersion: __UI_PROTOCOL_VERSION__,
    };
    const result = (await this.request("ui/initialize", params)) as McpUiInitializeResult;
    this.hostCapabilities = result.hostCapabilities ?? {}; // before "initialized": the tool result comes after it
    this.notify("ui/notifications/initialized", {});
    if (result.hostContext) this.handlers.hostContext?.(result.hostContext);
    return result;
  }

  /** Whether the host relays this view's `tools/call` to the server (`serverTools`); without it, no button can act. */
  get canCallTools(): boolean {
    return this.hostCapabilities.serverTools !== undefined;
  }

  callTool(name: string, args: Record<string, unknown>): Promise<ToolResult> {
    return this.request("tools/call", { name, arguments: args }) as Promise<ToolResult>;
  }

  /** What the person did in the view, for the model's next turn (the host decides when it reads it). */
  updateModelContext(text: string): Promise<unknown> {
    const params: McpUiUpdateModelContextRequest["params"] = { content: [{ type: "text", text }] };
    return this.request("ui/update-model-context", params);
  }

  sizeChanged(): void {
    const params: McpUiSizeChangedNotification["params"] = {
      width: Math.ceil(document.documentElement.scrollWidth),
      height: Math.ceil(document.documentElement.scrollHeight),
    };
    this.notify("ui/notifications/size-changed", params);
  }

  private request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    this.host.postMessage({ jsonrpc: "2.0", id, method, params }, "*");
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private notify(method: string, params: unknown): void {
    this.host.postMessage({ jsonrpc: "2.0", method, params }, "*");
  }

  private reply(id: unknown, result: unknown): void {
    this.host.postMessage({ jsonrpc: "2.0", id, result }, "*");
  }

  private receive(event: MessageEvent): void {
    if (event.source !== this.host) return; // only the embedding host speaks to this view
    const message = event.data as { jsonrpc?: string; id?: number; method?: string; params?: any; result?: unknown; error?: { message?: string } };
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id as number);
      if (message.error) waiting.reject(new Error(message.error.message || "host error"));
      else waiting.resolve(message.result);
      return;
    }
    switch (message.method) {
      case "ui/notifications/tool-input":
        this.handlers.toolInput?.(message.params?.arguments ?? {});
        break;
      case "ui/notifications/tool-result":
        this.handlers.toolResult?.(message.params as ToolResult);
        break;
      case "ui/notifications/host-context-changed":
        this.handlers.hostContext?.(message.params as McpUiHostContext);
        break;
      case "ui/resource-teardown":
      case "ping":
        this.reply(message.id, {});
        break;
    }
  }
}
