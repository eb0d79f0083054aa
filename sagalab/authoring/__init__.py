"""Authoring tools: what turns the notebooks into the package, the labs and the checks.

* `nbexport` — notebook cells marked ``#| export`` → the package's generated modules;
* `nbexec`   — execute notebooks in place, stored as strict nbval will compare them;
* `labgen`   — solutions/ → labs/ (stubs), refusing to overwrite a learner's work; nbgrader's
  cell metadata in solutions/;
* `labcheck` — run a learner's lab in a fresh kernel, one ✅/❌ line per exercise
  (``python3 course.py check``);
* `pytest_plugin` — readable pytest reports for lab check cells (loaded by the root conftest);
* `sitebuild` — the course as a website (Jupyter Book 1): ``python3 course.py site`` → _build/html;
* `plotly_mime` — myst-nb renderer that draws the notebooks' plotly figures on the site.

Learners never need these; the lessons import only the package's lesson modules.
"""
