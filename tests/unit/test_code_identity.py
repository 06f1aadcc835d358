"""Code fingerprints (fairforget.code_identity): what counts as a change, which files are on a code path, pins."""

from __future__ import annotations

from pathlib import Path

from fairforget.code_identity import (
    PACKAGE_DIR,
    code_files,
    file_fingerprint,
    job_identity,
    source_hash,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_comments_docstrings_and_formatting_do_not_count_code_does(tmp_path: Path) -> None:
    original = source_hash(_write(tmp_path / "a.py", '"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n'))
    reworded = source_hash(
        _write(tmp_path / "b.py", '"""Other words."""\n# a comment\ndef f( x ):  # why\n    return x+1\n')
    )
    changed = source_hash(_write(tmp_path / "c.py", '"""Doc."""\n\ndef f(x):\n    return x + 2\n'))
    assert original == reworded
    assert changed != original


def test_code_path_follows_lazy_imports_and_package_inits() -> None:
    files = {p.relative_to(PACKAGE_DIR).as_posix() for p in code_files(PACKAGE_DIR / "training" / "finetune.py")}
    # imported inside a function (make_probe_fn) and the package __init__ Python runs on the way
    assert {"scoring/pairs.py", "scoring/__init__.py", "training/__init__.py", "__init__.py"} <= files
    # registries import their implementations dynamically: objectives have fingerprints of their own
    assert not any(name.startswith("training/objectives/") for name in files)
    assert not any(name.startswith("analysis/") for name in files)


def test_result_keeping_modules_are_not_on_any_code_path() -> None:
    files = {p.relative_to(PACKAGE_DIR).as_posix() for p in code_files(PACKAGE_DIR / "evaluation" / "stage.py")}
    assert "metrics/base.py" in files
    assert not {name for name in files if name.startswith(("store/", "workflow/", "provenance/"))}
    assert not {"code_identity.py", "errors.py"} & files


def test_a_plugin_is_hashed_by_content_with_its_helper_modules(tmp_path: Path) -> None:
    plugin = _write(
        tmp_path / "my_plugin.py", "import helper\nfrom fairforget.hashing import sha256_file\n\nLIMIT = helper.VALUE\n"
    )
    helper = _write(tmp_path / "helper.py", "VALUE = 1\n")
    names = {p.name for p in code_files(plugin)}
    assert {"my_plugin.py", "helper.py", "hashing.py", "__init__.py"} <= names
    before = file_fingerprint(plugin)["sha256"]
    _write(helper, "VALUE = 2\n")
    assert file_fingerprint(plugin)["sha256"] != before
    # fingerprints name files relative to the package or by file name, so another checkout agrees
    assert file_fingerprint(plugin)["module"] == "plugin:my_plugin.py"


def test_job_identity_applies_pins_and_lists_them() -> None:
    components = {"stage/x": {"sha256": "a" * 64}, "objective/y": {"sha256": "b" * 64}}
    plain = job_identity(components)
    pinned = job_identity(components, {"objective/y": "c" * 64})
    assert plain["pinned"] == [] and pinned["pinned"] == ["objective/y"]
    assert pinned["components"]["objective/y"] == "c" * 64
    assert pinned["fingerprint"] != plain["fingerprint"]
    assert job_identity(components, {"objective/y": "b" * 64})["fingerprint"] == plain["fingerprint"]


def test_constants_count_by_value_wherever_they_are_defined(tmp_path: Path) -> None:
    """A constant taken from another package module, or written another way, hashes as the same value; the
    code around it hashes the same; a changed value changes the fingerprint."""
    from fairforget.code_identity import code_hash, module_constants

    imported = _write(
        tmp_path / "a.py", 'from fairforget.paths import RUN\nX = f"models/{RUN}"\n\ndef f():\n    return X\n'
    )
    literal = "models/{model}/{objective}/{remedy}/{size}/seed{seed}"
    spelled = _write(tmp_path / "b.py", f'X = "models/" + "{literal[7:]}"\n\ndef f():\n    return X\n')
    assert module_constants(imported) == module_constants(spelled) == {"X": literal}
    assert code_hash(imported) == code_hash(spelled)
    computed = _write(tmp_path / "c.py", "import os\nX = os.sep\n\ndef f():\n    return X\n")
    assert module_constants(computed) == {} and code_hash(computed) != code_hash(spelled)
    before = file_fingerprint(spelled)["sha256"]
    _write(spelled, f'X = "models/" + "{literal[7:]}"\nNEW = "unused"\n\ndef f():\n    return X\n')
    assert file_fingerprint(spelled)["sha256"] == before  # a constant no code uses counts for nothing
    _write(spelled, 'X = "models/other"\n\ndef f():\n    return X\n')
    assert file_fingerprint(spelled)["sha256"] != before
