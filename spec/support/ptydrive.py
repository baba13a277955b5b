#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and plays a user at its keyboard.

    ptydrive.py STEP... -- COMMAND ARG...

Steps, in order:
    --expect TEXT   wait until TEXT shows in the output since the last match
    --send TEXT     type TEXT (Python escapes: \\r, \\n, \\x03...)
    --intr          type Ctrl-C (the terminal sends SIGINT)
    --eof           type Ctrl-D at the start of a line (end of input)

Everything the command wrote to the terminal goes to stdout, then a last
line "exit N" (or "signal N"). A step that waits more than 30 seconds
kills the command and prints "timeout waiting for TEXT" instead.
"""
import os
import pty
import select
import signal
import sys
import time

LIMIT = 30.0


def parse(argv):
    steps, i = [], 0
    while argv[i] != "--":
        kind = argv[i]
        if kind in ("--expect", "--send"):
            text = argv[i + 1].encode().decode("unicode_escape").encode("latin-1")
            steps.append((kind, text))
            i += 2
        elif kind == "--intr":
            steps.append(("--send", b"\x03"))
            i += 1
        elif kind == "--eof":
            steps.append(("--send", b"\x04"))
            i += 1
        else:
            sys.exit("ptydrive: unknown step " + kind)
    return steps, argv[i + 1:]


def read_some(fd, timeout):
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the command closed the terminal
        return None


def main():
    steps, command = parse(sys.argv[1:])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen, mark = b"", 0
    out = sys.stdout.buffer
    for kind, text in steps:
        if kind == "--send":
            os.write(fd, text)
            continue
        deadline = time.monotonic() + LIMIT
        while seen.find(text, mark) < 0:
            left = deadline - time.monotonic()
            data = read_some(fd, max(left, 0)) if left > 0 else b""
            if not data:
                out.write(seen + b"\ntimeout waiting for " + text + b"\n")
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return 3
            seen += data
        mark = seen.find(text, mark) + len(text)
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        data = read_some(fd, deadline - time.monotonic())
        if data is None:
            break
        seen += data
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    out.write(seen)
    if os.WIFSIGNALED(status):
        out.write(b"\nsignal %d\n" % os.WTERMSIG(status))
    else:
        out.write(b"\nexit %d\n" % os.WEXITSTATUS(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
