"""Run memctl as a real process with stdout or stderr on a pseudo-terminal, to test what
people see on a terminal (tables fitted to the width, progress bars) against pipes."""

import os
import pty
import re
import subprocess
import sys
import threading

from tests.conftest import SRC

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # styles and cursor moves, not text


def on_terminal(
    *args: str, stream: str = "stdout", columns: int = 80, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``memctl ARGS`` with ``stream`` (stdout or stderr) on a terminal ``columns``
    wide and the other one piped; (exit code, terminal text without escape codes, piped
    text)."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": str(columns), "NO_COLOR": "1"}
    full_env.update(env or {})
    on_pty = {stream: slave}
    other = "stderr" if stream == "stdout" else "stdout"
    proc = subprocess.Popen(
        [sys.executable, "-m", "memctl", *args],
        stdin=subprocess.DEVNULL,
        env=full_env,
        **on_pty,  # type: ignore[arg-type]
        **{other: subprocess.PIPE},  # type: ignore[arg-type]
    )
    os.close(slave)
    piped: list[bytes] = []
    reader = threading.Thread(target=lambda: piped.append(getattr(proc, other).read()))
    reader.start()  # drained alongside, so a full pipe cannot stall the child
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    reader.join(timeout=120)
    code = proc.wait(timeout=120)
    terminal = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    terminal = _ESCAPES.sub("", terminal)
    return code, terminal, b"".join(piped).decode()
