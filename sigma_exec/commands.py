"""Shell wrappers run inside the sandbox (pure string building; no interpolation of user data).

User data (commands, paths) always travels as positional arguments ("$1", "$@"),
never spliced into a script.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import NamedTuple

# Runs the command under a hard time limit, then SIGKILLs every process of the
# sandbox user that is left (double-forked daemons, stopped process groups).
# `kill -9 -1` reaches all processes this uid may signal except PID 1 and itself;
# the keep-alive runs as another uid, so the container survives.
EXEC_WRAPPER = 'timeout -s KILL "$1" /bin/sh -c "$2"; rc=$?; kill -9 -1 2>/dev/null; exit $rc'

# Starts a command that leaves a process behind on purpose (a framework's resident_command), under a hard time
# limit: timeout kills its process group only when the limit passes.
START_WRAPPER = 'timeout -s KILL "$1" /bin/sh -c "$2"'

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

# The sandbox's OOM kills so far (cgroup v1 or v2): `oom SEP` sets $o to one number per file found, joined by SEP
# (shell builtins only: no process is started).
OOM_FUNCTION = """oom() {
  o=
  for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
    [ -r "$f" ] || continue
    while read -r k v; do [ "$k" != oom_kill ] || o="$o${o:+$1}$v"; done < "$f"
  done
}"""
OOM_COUNT = f'{OOM_FUNCTION}\noom " "; echo "$o"'

# A test run that hands its reports back in the same exec, and optionally runs the build after it. The command's
# stderr joins its stdout; once it has ended, every process of the sandbox user is killed and waited for
# (`settle`: nothing else can write any more), then the reports directory ("$3") is packed (at most "$4" bytes)
# and followed on the exec's stderr by a trailer line naming its length and the sandbox's OOM kill counts then
# (joined by "+"; empty when none could be read). Whatever a test wrote onto that stream (through /proc) comes
# before it, so the reader takes only the last trailer and the bytes it names (`parse_side_pack`).
# With a build ("$5" its time limit, "$6" its command, "$7" the test environment's names to unset, "$8" the
# output cap) and a test command that exited 0: the pack is kept in the wrapper's memory (the directory is
# removed), the build runs as its own exec would (in /workspace, without the test environment, stdin closed,
# output to a file), every process is killed and waited for again, and only then are the pack and its trailer
# written, followed by the build's output (at most "$8" bytes: its head and tail) and a BUILD_TRAILER line:
# exit code, output bytes, bytes shown, milliseconds, OOM kill counts. Both sections come after anything the
# tests or the build could write. A command killed by a signal (status >= 128, the wrapper itself included)
# or a process that will not die leaves no pack: the reader then packs the directory (and reads the OOM
# count) in execs of their own, and runs the build in its own exec.
SIDE_TRAILER = b"SIGMA-REPORTS"
BUILD_TRAILER = b"SIGMA-BUILD"
REPORTING_WRAPPER = f"""
timeout -s KILL "$1" /bin/sh -c "$2" 2>&1; rc=$?
alive() {{
  for d in /proc/[0-9]*; do
    [ "$d" = "/proc/$$" ] || [ ! -O "$d" ] && continue
    read -r s < "$d/stat" 2>/dev/null || continue
    s=${{s##*) }}; [ "${{s%% *}}" = Z ] || return 0
  done
  return 1
}}
settle() {{
  kill -9 -1 2>/dev/null; i=0
  while alive; do i=$((i+1)); [ $i -gt 100 ] && return 1; sleep 0.01; done
}}
{OOM_FUNCTION}
trailer() {{ printf "\\n{SIDE_TRAILER.decode()} %s %s\\n" "$n" "$o1" >&2; }}
settle && [ $rc -lt 128 ] && cd "$3" 2>/dev/null || exit $rc
if [ -z "$5" ] || [ $rc -ne 0 ]; then
  {_TAR_REPORTS} | head -c "$4" > "$3.tar"; n=$(wc -c < "$3.tar"); oom +; o1=$o
  cat "$3.tar" >&2 && trailer
  cd / && rm -rf -- "$3" "$3.tar"; exit $rc
fi
p=$({_TAR_REPORTS} | head -c "$4" | base64 -w0); oom +; o1=$o
case $p in *==) n=2 ;; *=) n=1 ;; *) n=0 ;; esac; n=$((${{#p}} / 4 * 3 - n))
cd / && rm -rf -- "$3"
for v in $7; do unset "$v"; done
out=$(mktemp /tmp/sigma-build.XXXXXXXXXX) && cd /workspace || exit $rc
t0=$(date +%s%N); timeout -s KILL "$5" /bin/sh -c "$6" > "$out" 2>&1 < /dev/null; b=$?; t1=$(date +%s%N)
settle || exit $rc
oom +; o2=$o; size=$(wc -c < "$out")
printf %s "$p" | base64 -d >&2 && trailer
if [ "$size" -gt "$8" ]; then
  {{ head -c $(($8 / 2)) "$out"; tail -c $(($8 - $8 / 2)) "$out"; }} >&2; shown=$8
else
  cat "$out" >&2; shown=$size
fi
printf "\\n{BUILD_TRAILER.decode()} %s %s %s %s %s\\n" "$b" "$size" "$shown" $(((t1 - t0) / 1000000)) "$o2" >&2
rm -f "$out"; exit $rc
"""


def as_shell(command: str | Sequence[str]) -> str:
    """A command as one shell string (lists are quoted word by word)."""
    return command if isinstance(command, str) else shlex.join(command)


def wrap_with_deadline(command: str | Sequence[str], timeout_s: int) -> list[str]:
    """argv that runs `command` with a hard deadline and leaves no process behind."""
    return ["/bin/sh", "-c", EXEC_WRAPPER, "sigma-exec", str(max(1, int(timeout_s))), as_shell(command)]


def wrap_start(command: str, timeout_s: int) -> list[str]:
    """argv that runs `command` with a hard deadline and leaves behind what it starts (START_WRAPPER)."""
    return ["/bin/sh", "-c", START_WRAPPER, "sigma-exec", str(max(1, int(timeout_s))), command]


class BuildPlan(NamedTuple):
    """A build to run after a test run, in its exec (REPORTING_WRAPPER)."""

    command: str
    timeout_s: int


def wrap_reporting(
    command: str | Sequence[str],
    timeout_s: int,
    reports: str,
    cap_bytes: int,
    build: BuildPlan | None = None,
    *,
    unset: Sequence[str] = (),
    build_cap_bytes: int = 0,
) -> list[str]:
    """Like `wrap_with_deadline`, and the reports directory comes back packed on stderr, and with `build` the
    build's run after it (REPORTING_WRAPPER), without the environment variables `unset` names (the test run's),
    its output cut to `build_cap_bytes`."""
    argv = ["/bin/sh", "-c", REPORTING_WRAPPER, "sigma-exec", str(max(1, int(timeout_s))), as_shell(command)]
    argv += [reports, str(int(cap_bytes))]
    if build is None:
        return [*argv, "", "", "", "0"]
    names = " ".join(n for n in unset if n.isidentifier())
    return [*argv, str(max(1, int(build.timeout_s))), build.command, names, str(max(2, int(build_cap_bytes)))]


class SidePack(NamedTuple):
    """What REPORTING_WRAPPER handed back: the reports as a tar, and the sandbox's OOM kills (None: unknown)."""

    packed: bytes
    oom_kills: int | None


class SideBuild(NamedTuple):
    """The build REPORTING_WRAPPER ran after the tests: its exit code, output (head and tail), time, OOM kills."""

    exit_code: int
    head: bytes
    tail: bytes
    total_bytes: int
    elapsed_s: float
    oom_kills: int | None


def _counts(word: bytes) -> int | bool | None:
    """A "+"-joined OOM count: its sum, None when empty, False when malformed."""
    counts = word.split(b"+") if word else []
    if not all(n.isdigit() for n in counts):
        return False
    return sum(int(n) for n in counts) if counts else None


def _trailer(side: bytes, name: bytes, fields: int) -> tuple[bytes, list[bytes]] | None:
    """(what precedes it, its fields) when `side` ends with a `name` trailer line of `fields` fields, the last one
    an OOM count and all others numbers; None otherwise."""
    if not side.endswith(b"\n"):
        return None
    body, sep, trailer = side[:-1].rpartition(b"\n")
    words = trailer.split(b" ")
    if not sep or len(words) != fields + 1 or words[0] != name or not all(w.isdigit() for w in words[1:-1]):
        return None
    return body, words[1:]


def split_side_build(side: bytes, cap_bytes: int) -> tuple[bytes, SideBuild] | None:
    """(what precedes it, the build section) when the side channel ends with one; None otherwise."""
    found = _trailer(side, BUILD_TRAILER, 5)
    if found is None:
        return None
    body, words = found
    code, total, shown, millis = (int(w) for w in words[:4])
    oom = _counts(words[4])
    if oom is False or shown > cap_bytes or shown > len(body) or shown > total or code > 255:
        return None
    output = body[len(body) - shown :]
    head, tail = (output, b"") if shown == total else (output[: cap_bytes // 2], output[cap_bytes // 2 :])
    build = SideBuild(code, head, tail, total, millis / 1000, oom if isinstance(oom, int) else None)
    return body[: len(body) - shown], build


def parse_side_pack(side: bytes, cap_bytes: int) -> SidePack | None:
    """The pack REPORTING_WRAPPER wrote last on stderr; None when the stream does not end with its trailer."""
    found = _trailer(side, SIDE_TRAILER, 2)
    if found is None:
        return None
    body, words = found
    size = int(words[0])
    oom = _counts(words[1])
    if size > cap_bytes or size > len(body) or oom is False:
        return None
    return SidePack(body[len(body) - size :], oom if isinstance(oom, int) else None)


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
