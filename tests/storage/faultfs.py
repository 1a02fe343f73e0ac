"""Real file-system faults for tests: a small tmpfs that fills up, and an ext4 image that turns
read-only the way ext4 does after an I/O error (``errors=remount-ro``).

``mount -o remount,ro`` cannot do the latter under a running server: the kernel refuses
(EBUSY) while any file is open for writing, and the journal always is. ext4's
``trigger_fs_error`` makes the file system read-only under open files, as a failing disk does.

Both need root (``mount``, a loop device). Without it the tests skip, saying why, except under
``CI=true``, where they fail, as the other optional-infrastructure tests do.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI runs the file-system fault tests, but {reason}")
    pytest.skip(reason)


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        unavailable(f"'{' '.join(command)}' failed: {result.stderr.strip()}")


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        unavailable("mounting a test file system needs root")
    for tool in tools:
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")


def _unmount(mountpoint: Path) -> None:
    # Lazily: a server that failed to stop must not keep the mount (and its loop device).
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=60)


@contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. "2m") at ``mountpoint`` for the block's duration."""
    _need("mount", "umount")
    mountpoint.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint))
    try:
        yield mountpoint
    finally:
        _unmount(mountpoint)


@contextmanager
def ext4(mountpoint: Path, image: Path, size_mb: int = 16) -> Iterator[str]:
    """Mount a new ext4 image at ``mountpoint``; yield its device's name (e.g. "loop3")."""
    _need("mount", "umount", "mkfs.ext4")
    with open(image, "wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    _run("mkfs.ext4", "-q", "-F", str(image))
    mountpoint.mkdir(parents=True, exist_ok=True)
    _run("mount", "-o", "loop,errors=remount-ro", str(image), str(mountpoint))
    try:
        source = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(mountpoint)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        yield Path(source).name
    finally:
        _unmount(mountpoint)


def break_ext4(device: str) -> None:
    """Make a mounted ext4 file system read-only, as an I/O error would."""
    trigger = Path(f"/sys/fs/ext4/{device}/trigger_fs_error")
    if not trigger.exists():
        unavailable(f"{trigger} does not exist (kernel without ext4 error injection)")
    trigger.write_text("1")


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` until it has no free block; return the filler."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (64 * 1024, 4096, 512, 1):
            while True:
                try:
                    handle.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler
