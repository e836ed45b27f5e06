"""This process's memory as Linux reports it in /proc/self/status: the one reader the benches use.

`VmHWM` is the peak resident set, `RssAnon` the resident anonymous memory (what the process holds
itself, without file pages the OS may drop); both are in KiB there.
"""

from __future__ import annotations


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def status_mib(field: str) -> float:
    return status_kib(field) / 1024
