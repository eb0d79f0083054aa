"""Build the course's website with Jupyter Book 1 (Sphinx + myst-nb), offline, into _build/html.

    python -m sagalab.authoring.sitebuild        # or: python3 course.py site

What goes in, in this order: a home page made from README.md (its introduction and syllabus),
the lessons (notebooks/NN*.ipynb, as committed: executed, never re-executed here), the labs
(as the generator makes them from solutions/, so a learner's own answers in labs/ are never
published) and the solutions. The table of contents is written from the files present, so a
new lesson or lab appears on the site without editing anything.

The sources are staged in _build/site-src/ with the repository's layout (notebooks/, labs/,
solutions/), so a lesson's link to ../labs/lab01_orchestration.ipynb works both in JupyterLab
and on the site. The build treats every warning as an error (`-W -n --keep-going`) and always
rebuilds every page: a warning is never hidden by an earlier build. The configuration is
site/_config.yml; plotly figures are drawn by sagalab/authoring/plotly_mime.py.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sagalab.authoring import labgen

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "site" / "_config.yml"
README = ROOT / "README.md"
PLACEHOLDER = "https://github.com/OWNER/REPO"
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def lessons(root: Path = ROOT) -> list[Path]:
    """The lessons in syllabus order: 00, 01, 01b, 02, ... (names sort that way)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]*.ipynb"))


def labs(root: Path = ROOT) -> list[Path]:
    """The solution notebooks, whose labs the generator makes (labgen.solutions)."""
    return sorted((root / "solutions").glob("lab*.ipynb"))


def pages(root: Path = ROOT) -> list[str]:
    """Every page of the site, as a path without suffix (`notebooks/00_welcome`), in order."""
    return (["index"] + [f"notebooks/{p.stem}" for p in lessons(root)]
            + [f"labs/{p.stem}" for p in labs(root)]
            + [f"solutions/{p.stem}" for p in labs(root)])


def toc_yaml(names: list[str]) -> str:
    """_toc.yml (sphinx-external-toc's jb-book format): the home page, then one part per folder."""
    captions = {"notebooks": "Lessons", "labs": "Labs", "solutions": "Solutions"}
    lines = ["# Written by sagalab/authoring/sitebuild.py from the notebooks present.",
             "format: jb-book", "root: index", "parts:"]
    for folder, caption in captions.items():
        chapters = [n for n in names if n.startswith(folder + "/")]
        if chapters:
            lines += [f"  - caption: {caption}", "    chapters:"]
            lines += [f"      - file: {n}" for n in chapters]
    return "\n".join(lines) + "\n"


def repository_url() -> str:
    """https://github.com/owner/repo of the `origin` remote, or the placeholder."""
    try:
        remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        return PLACEHOLDER
    found = re.fullmatch(r"(?:https://|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote)
    return f"https://github.com/{found.group(1)}/{found.group(2)}" if found else PLACEHOLDER


def binder_url(repository: str, path: str = "notebooks/00_welcome.ipynb") -> str:
    slug = repository.removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{slug}/HEAD?urlpath=lab/tree/{path}"


def _section(text: str, heading: str) -> str:
    """The body of README's `## heading` section (up to the next `## `), without the heading."""
    found = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not found:
        raise ValueError(f"README.md has no '## {heading}' section, which the site's home page "
                         f"is made from")
    return found.group(1).strip()


def index_markdown(readme: str, present: set[str], repository: str) -> str:
    """The home page: README's title, introduction and syllabus; a link to a file that is not
    on the site points at the repository instead (or becomes plain text: a missing file)."""
    title = re.search(r"^# (.+)$", readme, re.M)
    if not title:
        raise ValueError("README.md has no '# title' line, which the site's home page uses")
    intro = readme[title.end():].split("\n## ", 1)[0].strip()
    # Badges (images from their services' sites) stay in the README: the page below has its
    # own Binder link, and a site page loads nothing from the internet.
    intro = "\n\n".join(p for p in intro.split("\n\n") if not p.lstrip().startswith("[!["))

    def link(match: re.Match) -> str:
        text, target = match.groups()
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = target.split("#", 1)[0]
        if path.removesuffix(".ipynb") in present:
            return match.group(0)
        if (ROOT / path).exists():
            return f"[{text}]({repository}/blob/HEAD/{path})"
        return text

    body = (f"# {title.group(1)}\n\n{intro}\n\n"
            f"## Start\n\n"
            f"- **In your browser:** [open the course on Binder]({binder_url(repository)}) "
            f"(JupyterLab on notebook 00, nothing to install; a session ends when left idle, "
            f"and the first launch after a change builds the environment first).\n"
            f"- **On your machine** (Python 3.11+): `python3 course.py lab`.\n\n"
            f"These pages are the notebooks as they were last run: figures can be zoomed and "
            f"hovered, but sliders and buttons need a running kernel (Binder or your machine).\n\n"
            f"## Syllabus\n\n{_section(readme, 'Syllabus')}\n")
    return _LINK.sub(link, body)


def config_yaml(repository: str) -> str:
    text = CONFIG.read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        raise ValueError(f"{CONFIG.relative_to(ROOT)}: its repository url must be {PLACEHOLDER} "
                         f"(the build fills in the real one)")
    return text.replace(PLACEHOLDER, repository)


def staged(html: Path, page: str) -> Path:
    """The notebook (as staged for the build) that the page `page` of the site in `html` was
    made from; the repository's copy may have changed since."""
    return html.parent / "site-src" / f"{page}.ipynb"


def stage(target: Path) -> list[str]:
    """Write the site's sources into `target` (emptied first); return the pages."""
    if target.exists():
        shutil.rmtree(target)
    for folder in ("notebooks", "labs", "solutions"):
        (target / folder).mkdir(parents=True)
    for lesson in lessons():
        shutil.copy2(lesson, target / "notebooks" / lesson.name)
    for solution in labs():
        shutil.copy2(solution, target / "solutions" / solution.name)
        (target / "labs" / solution.name).write_text(labgen.lab_text(solution), encoding="utf-8")
    names = pages()
    repository = repository_url()
    (target / "_toc.yml").write_text(toc_yaml(names), encoding="utf-8")
    (target / "_config.yml").write_text(config_yaml(repository), encoding="utf-8")
    (target / "index.md").write_text(
        index_markdown(README.read_text(encoding="utf-8"), set(names), repository),
        encoding="utf-8")
    return names


def build(output: Path = ROOT, quiet: bool = False) -> tuple[int, float, Path, str]:
    """Build the site into <output>/_build/html; return (exit status, seconds, html folder,
    the build's output when `quiet`, else "")."""
    start = time.monotonic()
    source = output / "_build" / "site-src"
    stage(source)
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
               "build", str(source), "--path-output", str(output), "--builder", "html",
               "--all", "-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=ROOT, capture_output=quiet, text=True)
    log = (done.stdout or "") + (done.stderr or "")
    return done.returncode, time.monotonic() - start, output / "_build" / "html", log


_built: list[tuple[int, float, Path, str]] = []


def build_once() -> tuple[int, float, Path, str]:
    """For tests: build into a temporary folder once per process (removed when it exits);
    (status, seconds, html folder, log). The folder is readable by all: linkchecker, run as
    root, reads the pages as `nobody`."""
    if not _built:
        output = Path(tempfile.mkdtemp(prefix="sagalab-site-"))
        output.chmod(0o755)
        atexit.register(shutil.rmtree, output, ignore_errors=True)
        _built.append(build(output, quiet=True))
    return _built[0]


@contextlib.contextmanager
def serve(folder: Path):
    """Serve `folder` over HTTP on 127.0.0.1, a free port, in a thread; yield its base URL
    (http://127.0.0.1:<port>/). For tests: the server stops when the block ends."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):   # a client that hung up
                super().handle_error(request, client_address)

    handler = functools.partial(Quiet, directory=str(folder))
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print(__doc__)
        return 2
    code, seconds, html, _ = build()
    where = html.relative_to(ROOT) / "index.html"
    print(f"[site] {'built' if code == 0 else 'FAILED'} in {seconds:.1f} s"
          + (f": open {where}" if code == 0 else " (warnings count as errors: see above)"))
    return code


if __name__ == "__main__":
    sys.exit(main())
