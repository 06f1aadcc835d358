"""Atomic writes of record files (`fairforget.io`): a failed write never leaves a partial or half-replaced file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fairforget import io as ff_io


def _no_temp_files(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.iterdir())


@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
def test_failed_overwrite_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: str
) -> None:
    target = tmp_path / "metrics.json"
    ff_io.write_json(target, {"old": True})
    old_bytes = target.read_bytes()
    real_write = os.write

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def partial_write(fd: int, data) -> int:
        real_write(fd, bytes(data)[:3])
        full()

    monkeypatch.setattr(ff_io.os, failing_call, partial_write if failing_call == "write" else full)
    with pytest.raises(OSError) as raised:
        ff_io.write_json(target, {"new": list(range(100))})
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC
    assert target.read_bytes() == old_bytes
    assert _no_temp_files(tmp_path)


def test_interrupt_during_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (KeyboardInterrupt, a BaseException) mid-write also cleans up."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ff_io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ff_io.write_jsonl(tmp_path / "records.jsonl", [{"id": "1", "text": "x"}])
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write may write fewer bytes than asked; the helper must loop until everything is written."""
    real_write = os.write
    calls = []

    def short_write(fd: int, data) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data)[:7])

    monkeypatch.setattr(ff_io.os, "write", short_write)
    payload = bytes(range(256)) * 4
    ff_io.atomic_write_bytes(tmp_path / "blob", payload)
    monkeypatch.undo()
    assert (tmp_path / "blob").read_bytes() == payload
    assert len(calls) == -(-len(payload) // 7)


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    """mkstemp's 0600 must not leak into results: a shared store is read by the other users of a group."""
    import os
    import stat

    from fairforget.io import atomic_write_bytes

    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
