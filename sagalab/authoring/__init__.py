"""Authoring tools: what turns the notebooks into the package, the labs and the checks.

* `nbexport` — notebook cells marked ``#| export`` → the package's generated modules;
* `nbexec`   — execute notebooks in place, stored as strict nbval will compare them;
* `labgen`   — solutions/ → labs/ (stubs), refusing to overwrite a learner's work;
* `labcheck` — run a learner's lab in a fresh kernel, one ✅/❌ line per exercise
  (``python3 course.py check``);
* `pytest_plugin` — readable pytest reports for lab check cells (loaded by the root conftest).

Learners never need these; the lessons import only the package's lesson modules.
"""
