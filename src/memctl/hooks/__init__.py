"""Agent integration (docs/hooks.md): ``memctl hook session-end|pre-task|post-task|
memory-cleanup`` for Claude Code and claude-flow, and ``memctl hooks install``.

Modules: ``input`` (stdin JSON and claude-flow flags), ``context`` (one call's database,
policies, tenant, clock), one module per hook, ``runner`` (never breaks the agent's
session), ``output`` (what is printed) and ``claude_settings`` (settings.json merging).
Heavy imports stay inside functions: session-end and post-task never load the embedding
stack.
"""
