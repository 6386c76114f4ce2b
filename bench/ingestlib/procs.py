"""CPU, memory and disk writes of process trees from /proc, and py-spy profiles."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def process_tree(pid: int) -> list[int]:
    """Return `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        out.append(current := todo.pop())
        todo.extend(children.get(current, []))
    return out


@dataclass
class Usage:
    """CPU seconds (user + system, reaped children included) and resident memory of a tree."""

    cpu_s: float = 0.0
    rss_mb: float = 0.0

    @classmethod
    def of(cls, pid: int | None) -> Usage:
        usage = cls()
        for one in process_tree(pid) if pid else []:
            if fields := _stat(one):
                usage.cpu_s += sum(int(x) for x in fields[11:15]) / _TICK
                usage.rss_mb += int(fields[21]) * _PAGE / 2**20
        return usage


def written_mb(pid: int | None) -> float:
    """Return what the process has written to storage so far, in MB (/proc/<pid>/io)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return 0.0


class PySpy:
    """py-spy recording a process's Python stacks (raw, collapsed) until `stop()`."""

    def __init__(self, pid: int, output: Path, *, idle: bool = False) -> None:
        """With `idle`, stacks waiting in a system call are sampled too (what holds a loop
        that is not computing: a disk sync, a lock)."""
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(binary).exists():
            self.error = "py-spy is not installed (pip install py-spy)"
            return
        self.error = ""
        # Attached, not wrapping, so the process tree measured is the consumer's own; give
        # the interpreter a moment to start.
        time.sleep(0.3)
        self.process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
             "--nonblocking", "--output", str(output), *(["--idle"] if idle else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self, top: int = 15) -> dict[str, Any]:
        """Stop recording; return the hottest functions by own samples (imports left out)."""
        if self.process is None:
            return {"error": self.error}
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if not self.output.exists():
            return {"error": err.decode(errors="replace")[-300:]}
        own: dict[str, int] = {}
        total = 0
        for line in self.output.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit() or "importlib" in stack:  # start-up, not the drain
                continue
            leaf = stack.rsplit(";", 1)[-1]
            leaf = leaf.rsplit(":", 1)[0] + ")" if leaf.endswith(")") else leaf
            own[leaf] = own.get(leaf, 0) + int(n)
            total += int(n)
        hottest = sorted(own.items(), key=lambda kv: -kv[1])[:top]
        return {"file": str(self.output), "samples": total,
                "own": [{"function": f, "samples": n, "share": n / total} for f, n in hottest]}


def peak_rss_mb(pid: int) -> float:
    """Return the kernel's high-water mark of the process's resident memory (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
