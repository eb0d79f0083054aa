"""The two install routes (pip via course.py, conda/Binder via environment.yml) install the same
course, extras and exact versions; constraints.txt pins everything."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def names(requirements) -> set[str]:
    return {re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def pyproject_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return names(project["dependencies"] + extras)


def environment_yml() -> tuple[list[str], list[str]]:
    """environment.yml's conda packages, and its pip lines."""
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in spec["dependencies"] if isinstance(d, str)]
    pip = [line for d in spec["dependencies"] if isinstance(d, dict) for line in d.get("pip", [])]
    return conda, pip


def constraints() -> dict[str, str]:
    """constraints.txt as {normalised name: exact version}."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def course_extras() -> set[str]:
    """The extras `python3 course.py lab/test` installs (course.py's EXTRAS)."""
    found = re.search(r'^EXTRAS = "([^"]+)"', (ROOT / "course.py").read_text(), re.M)
    assert found, "course.py no longer defines EXTRAS = \"...\""
    return set(found.group(1).split(","))


def test_the_conda_route_installs_what_the_pip_route_installs():
    """environment.yml's pip step is course.py's install: the course with the same extras,
    constrained by the same exact pins. So Binder and conda users get the tested versions."""
    _, pip = environment_yml()
    assert "-c constraints.txt" in pip, (
        f"environment.yml's pip section must constrain to the tested pins with "
        f"'-c constraints.txt'; it has {pip}")
    editable = [line for line in pip if line.startswith("-e .")]
    assert editable, f"environment.yml's pip section must install the course (-e .[...]): {pip}"
    extras = re.fullmatch(r"-e \.\[([^\]]*)\]", editable[0])
    assert extras and set(extras.group(1).split(",")) == course_extras(), (
        f"environment.yml installs {editable[0]!r}; course.py installs the extras "
        f"{sorted(course_extras())}: make them the same")
    assert set(course_extras()) <= set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                                       ["project"]["optional-dependencies"])
    assert len(pip) == 2, f"environment.yml's pip section: only the two lines above, got {pip}"


def test_conda_brings_only_python_and_pip_or_exact_pins():
    """A package taken from conda-forge instead would not be the version the tests ran with,
    unless it is pinned to it; Python's version is one the course supports."""
    conda, _ = environment_yml()
    pins = constraints()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    for line in conda:
        spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:==?\s*(\S+))?", line)
        assert spec, f"environment.yml: {line!r} is neither a name nor name=version"
        name, version = spec.group(1).lower().replace("_", "-"), spec.group(2) or ""
        if name == "python":
            assert re.fullmatch(r"3\.\d+", version), f"pin Python's minor version: {line!r}"
            assert int(version.split(".")[1]) >= int(requires.split(".")[1]), (line, requires)
        elif name != "pip":
            assert pins.get(name) == version, (
                f"environment.yml takes {line!r} from conda; constraints.txt pins "
                f"{name}=={pins.get(name)}: pin it the same, or leave it to the pip step")
    assert any(line.startswith("python=") for line in conda), conda
    assert "pip" in conda, conda


def test_environment_yml_uses_conda_forge():
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert spec["channels"] == ["conda-forge"], spec["channels"]


def test_the_tests_run_on_the_pins():
    """Every distribution constraints.txt pins is installed at its pinned version here."""
    from importlib.metadata import PackageNotFoundError, version
    wrong = []
    for name, pinned in constraints().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            wrong.append(f"{name}: pinned {pinned}, installed {installed}")
    assert not wrong, ("this environment is not the tested one (python3 course.py test "
                       "reinstalls it): " + "; ".join(wrong))


def test_constraints_pin_every_dependency():
    pinned = names(line for line in (ROOT / "constraints.txt").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert pyproject_dependencies() <= pinned, sorted(pyproject_dependencies() - pinned)


def test_a_kernel_showing_a_plotly_figure_does_not_build_an_iri_grammar():
    """plotly.io imports nbformat, which imports jsonschema; jsonschema >= 4.25 then imports
    rfc3987-syntax (if installed), which builds ~25 Earley parsers at import: 1.7 s of CPU in
    every kernel's first figure and in the Jupyter server's start. pyproject.toml keeps it out."""
    probe = ("import sys, plotly.io._renderers, jupyter_events; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'rfc3987_syntax', 'lark'}))")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]", (
        f"{shown.stdout.strip()} imported along with plotly.io: pin jsonschema below 4.25 (see "
        f"pyproject.toml) and pip uninstall rfc3987-syntax lark")
