"""Reading and writing the workflow's record files, with errors that name file and line."""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import signal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fairforget.errors import ConfigError, DataError

# Test-only fault injection (tests/faults/test_interrupt.py), so that a test can stop a job at one exact point of
# a write instead of relying on timing. FAULT_ENV="<action>:<glob>": when the absolute path of an atomic write
# matches <glob> (fnmatch; `*` also matches `/`), the write is interrupted after its temporary file is written,
# fsynced and closed, and before the rename; a library's write wrapped in `naming_the_path` (a model folder, a
# training state) fails before it starts, and a rule script's `log_to` right after its log is set up. Actions:
# "kill" SIGKILLs this process, "stop" SIGSTOPs it (the test then SIGKILLs the whole process tree, e.g. snakemake
# with its jobs, as a node failure would), "enospc" raises OSError(ENOSPC) as a full disk would.
# FAULT_ONCE_ENV=<file>: fire only if <file> exists, removing it when firing (so exactly once across processes;
# its disappearance tells the test the fault fired).
# Unset, as in every real run, it costs one environment lookup per write.
FAULT_ENV = "FAIRFORGET_FAULT_INJECT"
FAULT_ONCE_ENV = "FAIRFORGET_FAULT_ONCE"
FAULT_ACTIONS = ("kill", "stop", "enospc")


def parse_json_line(path: str | Path, line_number: int, line: str) -> Any:
    """The JSON value on one line of a file; malformed JSON raises DataError naming file and line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{line_number}: malformed JSON ({err.msg})") from err


def json_record(path: str | Path, line_number: int, line: str, required: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON object on one line of a file, holding every `required` field, else DataError naming the line."""
    record = parse_json_line(path, line_number, line)
    if not isinstance(record, dict):
        raise DataError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in required if key not in record]
    if missing:
        raise DataError(f"{path}:{line_number}: missing field(s) {', '.join(missing)}")
    return record


def iter_utf8_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, line endings kept; DataError naming the file for a missing file
    and the file and line for bytes that are not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                yield line_number, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{line_number}: not valid UTF-8 ({err.reason} at byte {err.start} of the line)"
                ) from err


def iter_jsonl(path: str | Path, required: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file; a bad line raises DataError naming file and line."""
    for line_number, line in iter_utf8_lines(path):
        if line.strip():
            yield json_record(path, line_number, line, required)


def read_jsonl(path: str | Path, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    records = list(iter_jsonl(path, required))
    if not records:
        raise DataError(f"{path}: file holds no records")
    return records


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable; best effort, since some filesystems refuse fsync on a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def inject_fault(path: str | Path, bare: bool = False) -> None:
    """The test-only hook above, at a write of `path`; `bare`: an "enospc" error without the file name, as a
    library reports it."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    action, _, pattern = spec.partition(":")
    if action not in FAULT_ACTIONS or not pattern:
        raise ConfigError(
            f"environment variable {FAULT_ENV}={spec!r}: expected '<action>:<glob>' with action "
            f"one of {', '.join(FAULT_ACTIONS)} (a test-only hook; unset it)"
        )
    if not fnmatch.fnmatchcase(os.path.abspath(path), pattern):
        return
    fuse = os.environ.get(FAULT_ONCE_ENV)
    if fuse:
        try:
            os.unlink(fuse)
        except FileNotFoundError:
            return  # fired already
    if action == "enospc":
        if bare:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGSTOP)


@contextmanager
def naming_the_path(path: str | Path, what: str) -> Iterator[None]:
    """Around a library's write of `path` (transformers' save_pretrained, safetensors' save_file): an OS error
    that does not name the file it failed on ("No space left on device") is raised again naming `what` and
    `path`, with its errno kept (a full disk stays deterministic, an I/O hiccup transient: workflow.logs)."""
    try:
        inject_fault(path, bare=True)
        yield
    except OSError as err:
        if err.filename:
            raise
        raise OSError(err.errno, f"{err.strerror or err} while writing {what} {path}", str(path)) from err
    except Exception as err:
        # safetensors reports a failed write as SafetensorError("... IoError(Os { code: 28, ... })")
        if "No space left on device" not in str(err):
            raise
        raise OSError(errno.ENOSPC, f"No space left on device while writing {what} {path} ({err})", str(path)) from err


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash leaves no partial file."""
    atomic_write_chunks(path, [data])


def atomic_write_chunks(path: str | Path, chunks: Iterable[bytes]) -> None:
    """`atomic_write_bytes` of the concatenated chunks, consumed one at a time (memory bounded by a chunk).

    The temporary file is named `.{name}.<random>.tmp`, so readers that look for `name` never see it. Any
    error (a full disk raises OSError ENOSPC from write, fsync or close) removes it and propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            for data in chunks:
                view = memoryview(data)
                while view:
                    # os.write may write fewer bytes than asked (signals, pipes, some network filesystems)
                    written = os.write(fd, view)
                    view = view[written:]
            # mkstemp makes the file 0600; give it the mode a plain open() would (0666 minus the umask), so a
            # store on shared scratch stays readable by the other users of the group
            os.fchmod(fd, 0o666 & ~_current_umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        inject_fault(path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write the records one a line (atomically); a generator is consumed one record at a time."""
    count = 0

    def blocks() -> Iterator[bytes]:  # about 1 MB per write call
        nonlocal count
        block: list[str] = []
        size = 0
        for record in records:
            count += 1
            block.append(json.dumps(record, ensure_ascii=False) + "\n")
            size += len(block[-1])
            if size >= 1 << 20:
                yield "".join(block).encode("utf-8")
                block, size = [], 0
        yield "".join(block).encode("utf-8")

    atomic_write_chunks(path, blocks())
    return count


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8") from err
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err
