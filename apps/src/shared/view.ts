/** The life cycle every view shares: connect, theme, render each tool result, keep the host's frame sized. */
import type { McpUiHostContext } from "@modelcontextprotocol/ext-apps";
import { HostBridge, type ToolArguments, type ToolResult } from "./bridge";
import { mount, notice } from "./dom";
import { asRecord, asString } from "./dom";
import { applyHostContext, followSystemTheme } from "./theme";

export interface ViewState {
  bridge: HostBridge;
  args: ToolArguments;
  context: McpUiHostContext;
}

export function startView(name: string, render: (result: ToolResult, state: ViewState) => void): ViewState {
  const state = {} as ViewState;
  state.args = {};
  state.context = {};
  const bridge = new HostBridge({
    toolInput(args) {
      state.args = args;
    },
    toolResult(result) {
      render(result, state);
      bridge.sizeChanged();
    },
    hostContext(context) {
      state.context = { ...state.context, ...context };
      applyHostContext(context);
    },
  });
  state.bridge = bridge;
  followSystemTheme(); // until (unless) the host names its theme
  mount(notice("Waiting for the result…"));
  new ResizeObserver(() => bridge.sizeChanged()).observe(document.documentElement);
  void bridge.connect(name);
  return state;
}

/** The envelope every msgflash tool returns as structuredContent (server/core/results.py ToolOutput). */
export interface Envelope {
  status?: string;
  workspace?: string;
  summary?: string;
  note?: string;
  confirm_token?: string; // the plain token path: the model holds it, and asks in the conversation
  data?: unknown;
  preview?: Record<string, unknown>;
}

export function envelopeOf(result: ToolResult): Envelope {
  const structured = (result as { structuredContent?: unknown }).structuredContent;
  return structured !== null && typeof structured === "object" ? (structured as Envelope) : {};
}

// The SDK prefixes a tool error once per tool it passed through ("Error executing tool app_approve: Error
// executing tool send_message: …"): words for a model, not for the person reading the view.
const TOOL_ERROR_PREFIX = /^(Error executing tool [\w-]+: )+/;

export function errorText(result: ToolResult): string | undefined {
  if (!(result as { isError?: boolean }).isError) return undefined;
  const first = (result.content ?? [])[0] as { type?: string; text?: string } | undefined;
  const text = first?.type === "text" && first.text ? first.text.replace(TOOL_ERROR_PREFIX, "") : "";
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "The tool failed.";
}

/** A read another tool answers (e.g. a report's subject name), when the host relays the view's calls;
 * undefined when it cannot or the read failed: the view then shows what its own result says. */
export async function lookup(state: ViewState, tool: string, args: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  if (!state.bridge.canCallTools) return undefined;
  try {
    const result = await state.bridge.callTool(tool, args);
    return errorText(result) ? undefined : asRecord(envelopeOf(result).data);
  } catch {
    return undefined;
  }
}

/** The first `n` characters of an id, for a subject whose name is not known. */
export function shortId(value: unknown): string | undefined {
  const id = asString(value);
  return id && id.length > 12 ? `${id.slice(0, 8)}…` : id;
}
