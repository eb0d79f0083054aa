"""The two install routes (pip via course.py, conda via environment.yml) install the same set."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def names(requirements) -> set[str]:
    return {re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def pyproject_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return names(project["dependencies"] + extras)


def environment_yml_dependencies() -> tuple[set[str], list[str]]:
    """Conda packages, and the pip lines (which must install the course itself)."""
    conda, pip, in_pip = [], [], False
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        item = re.match(r"^(\s*)-\s+(.+?)\s*(#.*)?$", line)
        if re.match(r"^\s*-\s*pip:\s*$", line):
            in_pip = True
        elif item and in_pip and len(item.group(1)) > 2:
            pip.append(item.group(2))
        elif item:
            in_pip = False
            conda.append(item.group(2))
    return names(conda) - {"python", "pip"}, pip


def test_environment_yml_and_pyproject_list_the_same_dependencies():
    conda, _ = environment_yml_dependencies()
    ours = pyproject_dependencies()
    assert conda == ours, (f"only in environment.yml: {sorted(conda - ours)}; "
                           f"only in pyproject.toml: {sorted(ours - conda)}")


def test_environment_yml_uses_conda_forge_and_installs_the_course_with_pip():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"channels:\s*\n\s*-\s*conda-forge", text)
    _, pip = environment_yml_dependencies()
    assert any(line.startswith("-e .") or line == "." for line in pip), pip


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
