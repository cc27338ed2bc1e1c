"""The warm path for hooks, client side (docs/serve.md): ``memctl hook NAME`` asks a
running ``memctl serve`` to run the hook over the socket next to the database
(``memctl.warm``), and runs it in-process when no server answers. ``memctl.cli`` calls
``hook_main`` before building its command line, so this imports next to nothing.
"""

import sys

from memctl.warm import ask, enabled, socket_for

WARM_HOOKS = ("session-start", "pre-task", "post-task", "session-end")


def hook_main(name: str, args: list[str]) -> int:
    """``memctl hook NAME ARGS``: through the server when one answers for this project's
    database, else in this process; the exit code. stdin is read once, here, and handed
    to whichever runs the hook."""
    from memctl.hooks.input import HookInput, parse_flags, read_payload

    flags, _ = parse_flags(args)
    hook_input = HookInput({}, flags)
    if not hook_input.switch("no_stdin"):
        try:
            hook_input.payload = read_payload()
        except Exception as exc:
            from memctl.hooks.runner import failed

            return failed(name, hook_input, exc)
    call = None
    if name in WARM_HOOKS and enabled() and not hook_input.switch("debug"):
        from memctl.hooks.call import resolve_call

        try:
            call = resolve_call(name, hook_input)
        except Exception:
            call = None  # in-process resolution reports it the usual way
        if call is not None:
            answer = ask(
                socket_for(call.db_path),
                "/warm/hook",
                {
                    "hook": name,
                    "flags": hook_input.flags,
                    "payload": hook_input.payload,
                    "call": call.to_dict(),
                },
            )
            if answer is not None and isinstance(answer.get("exit"), int):
                sys.stdout.write(str(answer.get("stdout", "")))
                sys.stderr.write(str(answer.get("stderr", "")))
                return int(answer["exit"])
    from memctl.hooks.runner import execute

    return execute(name, hook_input, call)
