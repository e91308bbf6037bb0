/** The life cycle every view shares: connect, theme, render each tool result, keep the host's frame sized. */
import type { McpUiHostContext } from "@modelcontextprotocol/ext-apps";
import { HostBridge, type ToolArguments, type ToolResult } from "./bridge";
import { mount, notice } from "./dom";
import { applyHostContext } from "./theme";

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
  mount(notice("Waiting for the result…"));
  new ResizeObserver(() => bridge.sizeChanged()).observe(document.documentElement);
  void bridge.connect(name);
  return state;
}

/** The envelope every msgflash tool returns as structuredContent (server/results.py ToolOutput). */
export interface Envelope {
  status?: string;
  workspace?: string;
  summary?: string;
  data?: unknown;
  preview?: Record<string, unknown>;
}

export function envelopeOf(result: ToolResult): Envelope {
  const structured = (result as { structuredContent?: unknown }).structuredContent;
  return structured !== null && typeof structured === "object" ? (structured as Envelope) : {};
}

export function errorText(result: ToolResult): string | undefined {
  if (!(result as { isError?: boolean }).isError) return undefined;
  const first = (result.content ?? [])[0] as { type?: string; text?: string } | undefined;
  return first?.type === "text" && first.text ? first.text : "The tool failed.";
}
