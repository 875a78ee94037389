"""Shell wrappers run inside the sandbox (pure string building; no interpolation of user data).

User data (commands, paths) always travels as positional arguments ("$1", "$@"),
never spliced into a script.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

# Runs the command under a hard time limit, then SIGKILLs every process of the
# sandbox user that is left (double-forked daemons, stopped process groups).
# `kill -9 -1` reaches all processes this uid may signal except PID 1 and itself;
# the keep-alive runs as another uid, so the container survives.
EXEC_WRAPPER = 'timeout -s KILL "$1" /bin/sh -c "$2"; rc=$?; kill -9 -1 2>/dev/null; exit $rc'

# Run from outside the command's process tree when its deadline has passed.
KILL_ALL = "for i in 1 2 3 4 5; do kill -9 -1 2>/dev/null || exit 0; done; exit 0"

# Resolves every path of a change batch inside the sandbox, as the sandbox user:
# NUL-separated real paths, then a line of 1/0 "is a directory" flags, same order.
RESOLVE_UNRESOLVABLE = 4  # RESOLVE_PATHS's exit code when realpath fails for some path
RESOLVE_PATHS = (
    'cd /workspace || exit 3; realpath -m -z -- "$@" || exit 4; printf "\\n"; '
    'for p in "$@"; do if [ -d "$p" ]; then printf 1; else printf 0; fi; done'
)

LIST_WORKSPACE = "cd /workspace && find . -mindepth 1 -maxdepth 2 -not -path './.*/*' | head -n 5000"

# Everything under the given workspace directories, NUL-separated, links not followed.
LIST_UNDER = 'cd /workspace || exit 3; find "$@" -mindepth 1 -print0 2>/dev/null | head -z -n 20000; exit 0'

DELETE_PATHS = 'cd /workspace || exit 3; rm -rf -- "$@"'

# Pack the reports directory to stdout; links are archived as links, never followed.
PACK_REPORTS = (
    'cd "$1" 2>/dev/null || exit 0; '
    "tar -c --no-recursion -f - $(find . -maxdepth 4 -type f -size -16M | head -n 512) 2>/dev/null; "
    'cd / && rm -rf -- "$1"'
)

OOM_COUNT = (
    "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null "
    "| awk '$1==\"oom_kill\"{print $2}'"
)


def as_shell(command: str | Sequence[str]) -> str:
    """A command as one shell string (lists are quoted word by word)."""
    return command if isinstance(command, str) else shlex.join(command)


def wrap_with_deadline(command: str | Sequence[str], timeout_s: int) -> list[str]:
    """argv that runs `command` with a hard deadline and leaves no process behind."""
    return ["/bin/sh", "-c", EXEC_WRAPPER, "sigma-exec", str(max(1, int(timeout_s))), as_shell(command)]


def script(body: str, *args: str) -> list[str]:
    """argv for a fixed script with user data as positional arguments."""
    return ["/bin/sh", "-c", body, "sigma-exec", *args]


def parse_resolved(stdout: bytes, asked: Sequence[str]) -> tuple[list[str], list[bool]] | None:
    """Split RESOLVE_PATHS output; None when it does not match what was asked."""
    body, _, flags = stdout.rpartition(b"\n")
    resolved = [p.decode("utf-8", "surrogateescape") for p in body.split(b"\0") if p]
    dir_flags = [ch == ord("1") for ch in flags.strip()]
    if len(resolved) != len(asked) or len(dir_flags) != len(asked):
        return None
    return resolved, dir_flags


def parse_oom_count(stdout: bytes) -> int | None:
    try:
        return sum(int(x) for x in stdout.split())
    except ValueError:
        return None
