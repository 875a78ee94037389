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

# Writes a batch of files in one exec when none of its paths needs the full check: the batch comes as a tar,
# base64 in the environment ("$1" variables SIGMA_PACK_0.. in order); "$3".. are the batch's parent directories
# ("$2" of them, outermost first), then its files. Refused with DIRECT_WRITE_NEEDS_CHECK, before anything is
# written, when any of them is a link, a parent is neither a writable directory nor missing, or a file is a
# directory. Otherwise prints one 1/0 "parent exists" flag per parent and extracts as the sandbox user (tar
# replaces a file by unlinking it: a hard link's other name keeps its content).
DIRECT_WRITE_NEEDS_CHECK = 5
DIRECT_WRITE = (
    'cd /workspace || exit 3; umask 022; chunks=$1; parents=$2; shift 2; i=0; flags=""; '
    'for p in "$@"; do [ -L "$p" ] && exit 5; '
    'if [ $i -lt "$parents" ]; then if [ -d "$p" ]; then [ -w "$p" ] || exit 5; flags="${flags}1"; '
    'elif [ -e "$p" ]; then exit 5; else flags="${flags}0"; fi; '
    'elif [ -d "$p" ]; then exit 5; fi; i=$((i+1)); done; '
    '[ -w . ] || exit 5; printf "%s\\n" "$flags"; '
    'i=0; while [ $i -lt "$chunks" ]; do eval "printf %s \\"\\$SIGMA_PACK_$i\\""; i=$((i+1)); done '
    "| base64 -d | tar -x -p -f -"
)

LIST_WORKSPACE = "cd /workspace && find . -mindepth 1 -maxdepth 2 -not -path './.*/*' | head -n 5000"

# Everything under the given workspace directories, NUL-separated, links not followed.
LIST_UNDER = 'cd /workspace || exit 3; find "$@" -mindepth 1 -print0 2>/dev/null | head -z -n 20000; exit 0'

DELETE_PATHS = 'cd /workspace || exit 3; rm -rf -- "$@"'

# The reports directory's files (run in it) as a tar on stdout; links are archived as links, never followed.
_TAR_REPORTS = "tar -c --no-recursion -f - $(find . -maxdepth 4 -type f -size -16M | head -n 512) 2>/dev/null"

# Pack the reports directory to stdout and remove it.
PACK_REPORTS = f'cd "$1" 2>/dev/null || exit 0; {_TAR_REPORTS}; cd / && rm -rf -- "$1"'

# A test run that hands its reports back in the same exec. The command's stderr joins its stdout; once it has
# ended, every process of the sandbox user is killed and waited for (nothing else can write any more), then the
# reports directory ("$3") is packed (at most "$4" bytes) onto the exec's stderr, followed by a trailer line
# naming its length. Whatever a test wrote onto that stream (through /proc) comes before it, so the reader
# takes only the last trailer and the bytes it names (`parse_side_pack`). A command killed by a signal
# (status >= 128, the wrapper itself included) or a process that will not die leaves no pack: the reader then
# packs the directory in an exec of its own.
SIDE_TRAILER = b"SIGMA-REPORTS"
REPORTING_WRAPPER = (
    'timeout -s KILL "$1" /bin/sh -c "$2" 2>&1; rc=$?; kill -9 -1 2>/dev/null; '
    # alive: another process of this user that is no zombie (builtins only: no child of ours is counted)
    'alive() { for d in /proc/[0-9]*; do [ "$d" = "/proc/$$" ] || [ ! -O "$d" ] && continue; '
    'read -r s < "$d/stat" 2>/dev/null || continue; s=${s##*) }; [ "${s%% *}" = Z ] || return 0; done; return 1; }; '
    "i=0; while alive; do i=$((i+1)); [ $i -gt 100 ] && exit $rc; sleep 0.01; done; "
    '[ $rc -lt 128 ] && cd "$3" 2>/dev/null || exit $rc; '
    f'{_TAR_REPORTS} | head -c "$4" > "$3.tar"; n=$(wc -c < "$3.tar") && cat "$3.tar" >&2 && '
    f'printf "\\n{SIDE_TRAILER.decode()} %s\\n" "$n" >&2; cd / && rm -rf -- "$3" "$3.tar"; exit $rc'
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


def wrap_reporting(command: str | Sequence[str], timeout_s: int, reports: str, cap_bytes: int) -> list[str]:
    """Like `wrap_with_deadline`, and the reports directory comes back packed on stderr (REPORTING_WRAPPER)."""
    argv = ["/bin/sh", "-c", REPORTING_WRAPPER, "sigma-exec", str(max(1, int(timeout_s))), as_shell(command)]
    return [*argv, reports, str(int(cap_bytes))]


def parse_side_pack(side: bytes, cap_bytes: int) -> bytes | None:
    """The pack REPORTING_WRAPPER wrote last on stderr; None when the stream does not end with its trailer."""
    if not side.endswith(b"\n"):
        return None
    body, sep, trailer = side[:-1].rpartition(b"\n")
    words = trailer.split(b" ")
    if not sep or len(words) != 2 or words[0] != SIDE_TRAILER or not words[1].isdigit():
        return None
    size = int(words[1])
    if size > cap_bytes or size > len(body):
        return None
    return body[len(body) - size :]


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
