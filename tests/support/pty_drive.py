"""Runs a command in a pseudo-terminal and answers its prompts, for the tests of what irlab
asks on a terminal.

    pty_drive.py SCRIPT -- COMMAND [ARGS...]

SCRIPT is JSON: a list of [regex, text] pairs; each regex is awaited in the output (since the
previous match), then the text is typed. After the last pair the command runs to its end. The
whole transcript is printed (terminal escapes and all); the exit status is the command's, or
99 if an expected text never came (within 180 s). The terminal is PTY_COLS x PTY_ROWS
(default 80 x 24).
"""

import fcntl
import json
import os
import pty
import re
import select
import struct
import sys
import termios
import time


def main() -> int:
    split = sys.argv.index("--")
    script = json.loads(sys.argv[1])
    argv = sys.argv[split + 1 :]
    cols, rows = int(os.environ.get("PTY_COLS", "80")), int(os.environ.get("PTY_ROWS", "24"))
    pid, fd = pty.fork()
    if pid == 0:
        # The child's terminal (its standard input) gets the size before the command starts.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ["TERM"] = "xterm"
        os.environ["COLUMNS"] = str(cols)
        os.execvp(argv[0], argv)
    out = b""
    seen = 0

    def read(timeout: float) -> bool:
        nonlocal out
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        out += chunk
        return True

    status = 0
    for pattern, text in script:
        deadline = time.monotonic() + 180
        while True:
            m = re.search(pattern.encode(), out[seen:])
            if m:
                seen += m.end()
                break
            if time.monotonic() > deadline or not read(0.5):
                sys.stdout.write(out.decode(errors="replace"))
                sys.stdout.write(f"\n[pty_drive] never saw {pattern!r}\n")
                os.kill(pid, 9)
                return 99
        time.sleep(0.3)
        os.write(fd, text.encode())
    deadline = time.monotonic() + 300
    while read(1.0):
        if time.monotonic() > deadline:
            sys.stdout.write(out.decode(errors="replace"))
            sys.stdout.write("\n[pty_drive] the command did not end\n")
            os.kill(pid, 9)
            return 99
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while read(0.2):
                pass
            break
    else:
        _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status) if status else 0


if __name__ == "__main__":
    sys.exit(main())
