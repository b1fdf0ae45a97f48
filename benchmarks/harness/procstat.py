"""CPU time and resident memory of a process and its descendants, read from /proc (Linux).

utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (proc(5)); a tree's CPU
time is the sum over its live processes, so workers (nginx, uvicorn --workers) are included.
RSS is field 2 of /proc/PID/statm, in pages.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["descendant_pids", "tree_cpu_time_s", "tree_rss_bytes", "process_cpu_time_s", "process_rss_bytes", "thread_cpu_times_s"]

_PROC = Path("/proc")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int, stat_path: Path | None = None) -> list[str] | None:
    """Fields of /proc/PID/stat (or `stat_path`) after the command name (state is index 0), or None if it is gone."""
    try:
        text = (stat_path or _PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2 :].split()


def thread_cpu_times_s(pid: int) -> dict[str, float]:
    """CPU seconds of each live thread of one process: "main" for the thread whose id is `pid`, else "NAME-TID"
    (/proc/PID/task/TID/comm; Python does not name its threads there, so NAME is usually the program's)."""
    times: dict[str, float] = {}
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return times
    for task in tasks:
        fields = _stat_fields(pid, task / "stat")
        try:
            name = "main" if task.name == str(pid) else f"{(task / 'comm').read_text().strip()}-{task.name}"
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fields is not None:
            times[name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S
    return times


def process_cpu_time_s(pid: int) -> float:
    """User plus system CPU seconds of one process (0.0 once it has exited)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def process_rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 once it has exited)."""
    try:
        resident_pages = int((_PROC / str(pid) / "statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return resident_pages * PAGE_BYTES


def descendant_pids(root_pid: int) -> list[int]:
    """`root_pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_cpu_time_s(root_pid: int) -> float:
    """CPU seconds of `root_pid` and its live descendants."""
    return sum(process_cpu_time_s(pid) for pid in descendant_pids(root_pid))


def tree_rss_bytes(root_pid: int) -> int:
    """Resident bytes of `root_pid` and its live descendants (shared pages counted once per process)."""
    return sum(process_rss_bytes(pid) for pid in descendant_pids(root_pid))
