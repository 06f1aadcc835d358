"""The test-only fault hook of `fairforget.io` (FAIRFORGET_FAULT_INJECT): it interrupts exactly the matching
write, exactly where it says (temporary file written, rename not done), and does nothing when unset."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fairforget import io as ff_io
from fairforget.errors import ConfigError
from fairforget.io import FAULT_ENV, FAULT_ONCE_ENV


def test_unset_or_unmatched_hook_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULT_ENV, raising=False)
    ff_io.write_json(tmp_path / "a.json", {"x": 1})
    monkeypatch.setenv(FAULT_ENV, "enospc:*/other/*.json")
    ff_io.write_json(tmp_path / "b.json", {"x": 2})
    assert ff_io.read_json(tmp_path / "a.json") == {"x": 1} and ff_io.read_json(tmp_path / "b.json") == {"x": 2}


@pytest.mark.parametrize("spec", ["enospc", "explode:*.json", "kill:"])
def test_malformed_spec_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv(FAULT_ENV, spec)
    with pytest.raises(ConfigError, match=FAULT_ENV):
        ff_io.write_json(tmp_path / "a.json", {})
    assert list(tmp_path.iterdir()) == []


def test_enospc_keeps_the_old_file_and_fires_once_with_a_fuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, fuse = tmp_path / "metrics.json", tmp_path / "fuse"
    ff_io.write_json(target, {"old": True})
    fuse.touch()
    monkeypatch.setenv(FAULT_ENV, "enospc:*/metrics.json")
    monkeypatch.setenv(FAULT_ONCE_ENV, str(fuse))
    with pytest.raises(OSError) as raised:
        ff_io.write_json(target, {"new": True})
    assert raised.value.errno == errno.ENOSPC and not fuse.exists()
    assert ff_io.read_json(target) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # temporary file removed
    ff_io.write_json(target, {"new": True})  # the fuse is spent: the next write goes through
    assert ff_io.read_json(target) == {"new": True}


@pytest.mark.parametrize("action", ["kill", "stop"])
def test_kill_and_stop_interrupt_after_the_temporary_file(tmp_path: Path, action: str) -> None:
    target = tmp_path / "entry.json"
    script = textwrap.dedent(
        f"""
        import os
        os.environ[{FAULT_ENV!r}] = {f"{action}:*/entry.json"!r}
        from fairforget.io import write_json
        write_json({str(target)!r}, {{"payload": list(range(1000))}})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        if action == "stop":
            # stopped at the fault point: wait for that, then kill it as a test of a whole run would
            deadline = time.monotonic() + 60
            while _state(child.pid) != "T":
                assert child.poll() is None, "the writer ended instead of stopping"
                assert time.monotonic() < deadline, "the writer never stopped"
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert not target.exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(".entry.json.") and leftover.name.endswith(".tmp")
    assert ff_io.read_json(leftover) == {"payload": list(range(1000))}  # written in full before the fault


def _state(pid: int) -> str:
    # third field of /proc/<pid>/stat: R running, S sleeping, T stopped
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_enospc_in_a_library_write_is_bare_and_named_by_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Around a library's write (`naming_the_path`) the hook fails as the library would, without a file name, so
    what the test through Snakemake sees is the name `naming_the_path` adds."""
    folder = tmp_path / "models" / "run"
    monkeypatch.setenv(FAULT_ENV, "enospc:*/models/run")
    with pytest.raises(OSError) as caught, ff_io.naming_the_path(folder, "the model folder"):
        raise AssertionError("the library's write must not start")
    assert caught.value.errno == errno.ENOSPC
    assert (
        str(caught.value) == f"[Errno 28] No space left on device while writing the model folder {folder}: '{folder}'"
    )
    assert caught.value.__cause__.filename is None  # the bare error, as the library raises it
