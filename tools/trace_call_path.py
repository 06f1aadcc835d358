"""Count the fine-tuning job's path from the rule's script into the training loop (issue 31's measure).

    .venv/bin/python tools/trace_call_path.py --repo REPO --inputs-from RESULTS [--run MODEL/OBJ/REMEDY/SIZE/SEED]

Method (the same for any checkout, so a before and an after are counted identically):

1. The finetune command of one run is taken from Snakemake itself: a dry run of REPO's workflow
   (`--configfile config/micro.yaml`, results_dir set to a scratch folder) prints the rule's shell command with
   its job spec. The scratch folder gets a copy of the prepared data and base model of RESULTS (read only), so
   the job finds its inputs and writes nothing outside the scratch folder.
2. The rule's script (REPO/workflow_scripts/finetune.py) runs in this process under `sys.setprofile`, with
   `TrainingLoop.step` replaced by a stop: the trace covers the script's entry up to the first training step.
3. Which calls count (functions of REPO/src/fairforget; module bodies and comprehensions left out):
   - `frames` (the default): every call between the script's entry and the first training step;
   - `job`: the calls the job's data reaches, followed by identity: the roots are the objects the script holds
     in a global named `spec` or `job` when it calls into the package; every container, string and dataclass
     reachable from them is tracked, and a call counts when one of its arguments is a tracked object (a value
     converted on the way, e.g. `Path(spec["base_dir"])`, is a new object and is no longer followed);
   - `flow`: as `job`, and what library code (not the package) returns when given a tracked value is tracked
     too: a library conversion of the job's value (`Path(x)`, `x / "name"`) is still the job's value, while
     what the package computes from it (a loaded model, a context) is not.
4. Counted: files (distinct source files of the counted calls), functions (distinct code objects), and returns
   to a file already left (a counted call returning to a caller in another file of the package or the script:
   control goes back to a file it had left). Every return counts, so a call made once per batch or per record
   (and each `yield` of a generator, which returns to its consumer) counts as often as it happens; `distinct`
   counts the (callee, caller) pairs once each, and `--edges` lists them with their counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

SKIPPED_CODE_NAMES = ("<module>", "<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


class StopAtFirstStep(Exception):
    """Raised in place of the first training step: the trace ends there."""


def finetune_command(repo: Path, scratch: Path, run: str) -> list[str]:
    """The finetune rule's shell command for `run`, as Snakemake prints it in a dry run."""
    target = f"{scratch}/models/finetuned/{run}.sha256"
    cmd = [
        sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--configfile", "config/micro.yaml",
        "--config", f"results_dir={scratch}", f"store_dir={scratch}/store", "--forcerun", "finetune", "--", target,
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "finetune.py" in line and "OMP_NUM_THREADS=" in line:
            words = shlex.split(line.split(" 2>> ")[0].strip())
            script = next(i for i, word in enumerate(words) if word.endswith("finetune.py"))
            return words[script - 1 :]  # [python, script, args...]
    raise SystemExit(f"no finetune command in the dry run of {repo}:\n{out[-2000:]}")


def reachable_ids(root: Any, seen: set[int], kept: list[Any]) -> None:
    """Add the ids of `root` and what it holds to `seen`; `kept` keeps them alive (no id is reused)."""
    if id(root) in seen or root is None or isinstance(root, bool | int | float):
        return
    seen.add(id(root))
    kept.append(root)
    if isinstance(root, dict):
        for key, value in root.items():
            reachable_ids(key, seen, kept)
            reachable_ids(value, seen, kept)
    elif isinstance(root, list | tuple | set | frozenset):
        for value in root:
            reachable_ids(value, seen, kept)
    elif dataclasses.is_dataclass(root) and not isinstance(root, type):
        for field in dataclasses.fields(root):
            reachable_ids(getattr(root, field.name), seen, kept)


def argument_values(frame: Any) -> list[Any]:
    """The values a call was given: its parameters, and the items of its *args and **kwargs."""
    code, locals_ = frame.f_code, frame.f_locals
    count = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:count])
    values = [locals_[name] for name in names if name in locals_]
    if code.co_flags & inspect.CO_VARARGS:
        values.extend(locals_.get(code.co_varnames[count], ()))
        count += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        values.extend(locals_.get(code.co_varnames[count], {}).values())
    return values


def trace(repo: Path, argv: list[str], method: str, until: str) -> dict[str, Any]:
    script = str((repo / argv[1]).resolve())
    package = str((repo / "src" / "fairforget").resolve()) + os.sep
    sys.path.insert(0, str(repo / "src"))
    from fairforget.training.loop import TrainingLoop

    def stop(self: Any, *args: Any, **kwargs: Any) -> None:
        raise StopAtFirstStep

    if until == "loop":
        TrainingLoop.__init__ = stop  # type: ignore[method-assign]
    else:
        TrainingLoop.step = stop  # type: ignore[method-assign]
    tracked: set[int] = set()
    kept: list[Any] = []
    converting: set[int] = set()  # frames of library code (not the package) called with a tracked argument
    roots: set[int] = set()
    on_path: set[int] = set()  # frame ids of functions on the job's path
    files: set[str] = set()
    functions: set[tuple[str, str, int]] = set()
    returns_to_left_file = 0
    return_edges: Counter[tuple[str, str]] = Counter()  # (function returning, function returned to), across files

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal returns_to_left_file
        code = frame.f_code
        if event == "call":
            caller = frame.f_back
            if caller is not None and caller.f_code.co_filename == script:
                for name in ("spec", "job"):
                    value = caller.f_globals.get(name)
                    if value is not None and id(value) not in roots:
                        roots.add(id(value))
                        reachable_ids(value, tracked, kept)
            carries = any(id(value) in tracked for value in argument_values(frame))
            if not code.co_filename.startswith(package):
                if method == "flow" and carries and code.co_filename != script:
                    converting.add(id(frame))
                return
            if code.co_name in SKIPPED_CODE_NAMES:
                return
            if method == "frames" or carries:
                on_path.add(id(frame))
                files.add(code.co_filename)
                functions.add((code.co_filename, code.co_qualname, code.co_firstlineno))
        elif event == "return" and id(frame) in converting:
            # a library conversion of the job's value (Path(x), x / "name") is still the job's value
            converting.discard(id(frame))
            reachable_ids(arg, tracked, kept)
            if code.co_name == "__init__" and "self" in frame.f_locals:
                reachable_ids(frame.f_locals["self"], tracked, kept)
        elif event == "return" and id(frame) in on_path:
            on_path.discard(id(frame))
            caller = frame.f_back
            if caller is None:
                return
            into = caller.f_code.co_filename
            if into != code.co_filename and (into.startswith(package) or into == script):
                returns_to_left_file += 1
                return_edges[(f"{code.co_filename}:{code.co_qualname}", f"{into}:{caller.f_code.co_qualname}")] += 1

    sys.argv = argv[1:]
    sys.setprofile(profile)
    try:
        runpy.run_path(script, run_name="__main__")
    except StopAtFirstStep:
        pass
    finally:
        sys.setprofile(None)
    if not functions:
        raise SystemExit("the job never reached the package: nothing traced")
    return {
        "files": len(files),
        "functions": len(functions),
        "returns_to_a_file_already_left": returns_to_left_file,
        "distinct_returns_to_a_file_already_left": len(return_edges),
        "function_list": sorted(f"{Path(f).relative_to(repo / 'src')}:{q}" for f, q, _ in functions),
        "edge_list": [f"{n:5d} {_short(a, repo)} -> {_short(b, repo)}" for (a, b), n in return_edges.most_common()],
    }


def _short(where: str, repo: Path) -> str:
    """A traced function as `path:qualname`, the path relative to the checkout."""
    path, _, name = where.rpartition(":")
    return f"{os.path.relpath(path, repo)}:{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path("."), help="checkout whose workflow and package are traced")
    parser.add_argument("--inputs-from", type=Path, required=True, help="results dir with data/ and models/base/")
    parser.add_argument("--run", default="bert-tiny/none/none/full/seed0", help="the run (path fragment)")
    parser.add_argument("--method", choices=("frames", "job", "flow"), default="frames", help="which calls count")
    parser.add_argument(
        "--until", choices=("loop", "step"), default="step", help="stop at the TrainingLoop's construction or step"
    )
    parser.add_argument("--list", action="store_true", help="also print the functions on the path")
    parser.add_argument(
        "--edges", action="store_true", help="also print each return to a file already left, with its count"
    )
    args = parser.parse_args()
    repo = args.repo.resolve()
    model = args.run.split("/")[0]
    with tempfile.TemporaryDirectory(prefix="trace_call_path_") as scratch_name:
        scratch = Path(scratch_name)
        shutil.copytree(args.inputs_from / "data", scratch / "data")
        (scratch / "models" / "base").mkdir(parents=True)
        shutil.copytree(args.inputs_from / "models" / "base" / model, scratch / "models" / "base" / model)
        shutil.copy(args.inputs_from / "models" / "base" / f"{model}.sha256", scratch / "models" / "base")
        argv = finetune_command(repo, scratch, args.run)
        os.chdir(repo)
        counts = trace(repo, argv, args.method, args.until)
    listing = counts.pop("function_list")
    edges = counts.pop("edge_list")
    print(json.dumps({"method": args.method, "until": args.until, **counts}))
    if args.list:
        print("\n".join(listing))
    if args.edges:
        print("\n".join(edges))


if __name__ == "__main__":
    main()
