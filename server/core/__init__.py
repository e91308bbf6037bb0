"""The floor of the server: what everything above uses and which uses nothing above it.

`errors` (the error types a tool call can end in), `results` (replies and previews), `settings` (the
configuration, read once), `credentials` (the keys one call may present: what the API client receives)
and `workspaces` (the configured workspaces and each caller's active one). Nothing here imports from
outside `core/` except the text leaves `wire` and `untrusted`; tests/contract/test_import_layers.py
keeps it so.
"""
