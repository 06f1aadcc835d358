"""tests/ mirrors the package (tests/README.md): the unit tests of `src/fairforget/<subpackage>/<module>.py` are
`tests/unit/<subpackage>/test_<module>.py` (a leading underscore dropped: `_text.py` -> `test_text.py`), so a
maintainer finds a module's tests without a search. Modules still without such a file are listed below; the list
may only shrink: a module that gets its test file must leave it, and a new module brings its test file."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "fairforget"
UNIT = REPO / "tests" / "unit"

# Modules (paths below src/fairforget) without their unit test file yet: none since issue 31. Do not add to this
# list: a new module brings its test file.
MISSING_UNIT_TESTS: frozenset[str] = frozenset()
MOST_MISSING = 0  # the test below fails if the list grows past it


def package_modules() -> list[str]:
    """Every module of the package, as its path below src/fairforget (package `__init__.py` files left out: each
    re-exports or holds only what its modules' tests cover)."""
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def unit_test_file(module: str) -> Path:
    path = Path(module)
    return UNIT / path.parent / f"test_{path.stem.lstrip('_')}.py"


def test_every_module_has_its_unit_test_file_or_is_listed_as_missing() -> None:
    lacking = [m for m in package_modules() if not unit_test_file(m).is_file() and m not in MISSING_UNIT_TESTS]
    assert not lacking, "modules without a unit test file at the mirrored path: " + ", ".join(
        f"{m} (expected {unit_test_file(m).relative_to(REPO)})" for m in lacking
    )


def test_the_missing_list_names_only_modules_that_exist_and_still_lack_a_file() -> None:
    modules = set(package_modules())
    gone = sorted(MISSING_UNIT_TESTS - modules)
    assert not gone, f"MISSING_UNIT_TESTS names modules that do not exist: {gone}"
    tested = sorted(m for m in MISSING_UNIT_TESTS if unit_test_file(m).is_file())
    assert not tested, f"these modules have their unit test file now; remove them from MISSING_UNIT_TESTS: {tested}"
    assert len(MISSING_UNIT_TESTS) <= MOST_MISSING, (
        f"MISSING_UNIT_TESTS grew to {len(MISSING_UNIT_TESTS)} (at most {MOST_MISSING}): give the new module its file"
    )


def test_unit_test_folders_are_subpackages() -> None:
    """A folder under tests/unit that no subpackage matches (a renamed or deleted subpackage, a typo) would hold tests
    that the mirror check above never looks at."""
    stray = [
        str(folder.relative_to(UNIT))
        for folder in UNIT.rglob("*")
        if folder.is_dir() and folder.name != "__pycache__" and not (PACKAGE / folder.relative_to(UNIT)).is_dir()
    ]
    assert not stray, f"tests/unit folders with no matching package folder under src/fairforget: {stray}"


def test_helpers_and_conftest_only_at_the_top_of_tests() -> None:
    """Test files import shared helpers by name (pyproject's `pythonpath = ["tests"]`); a helper or conftest.py
    inside a subfolder would be importable by nobody, or shadow the top one."""
    tests = REPO / "tests"
    misplaced = [
        str(p.relative_to(tests)) for p in tests.rglob("*.py") if p.parent != tests and not p.name.startswith("test_")
    ]
    assert not misplaced, f"non-test modules below tests/'s top folder: {misplaced}"


def test_no_test_file_at_the_top_of_tests() -> None:
    """Every test file sits in its category (tests/README.md: unit/, workflow/, faults/, calibration/, conformance/,
    real/, project/): a file written into the former flat folder is found here and moved."""
    flat = sorted(p.name for p in (REPO / "tests").glob("test_*.py"))
    assert not flat, f"test files at the top of tests/, move them into the layout of tests/README.md: {flat}"
