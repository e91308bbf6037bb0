"""One tool call, from typed arguments to the MCP result, in six steps with a module each:

- `context`: the one binding (CallContext: principal, workspace, Api, clock reading, progress, the plan);
- `binding`: the resolvers `bind` (CallContext + Plan) and `confirm` (the guard's decision);
- `execution`: the body: re-check the plan, act exactly once, replays;
- `outcome`: envelopes for acted / not acted, failures as readable ToolErrors;
- `audit_step`: one audit line per mutating call, never able to change the result;
- `pipeline`: the MCP tool built from a ToolSpec (argument model, schema, wiring).
"""

from .context import CallContext, bind_call, bind_route, principal_of
from .pipeline import build_tool, build_tools, compact_schema

__all__ = ["CallContext", "bind_call", "bind_route", "build_tool", "build_tools", "compact_schema", "principal_of"]
