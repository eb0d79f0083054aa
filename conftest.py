"""Repository-wide pytest set-up: readable reports for lab notebooks, wherever pytest is run
from (`pytest --nbval-lax labs/lab01_orchestration.ipynb` included)."""
pytest_plugins = ["sagalab.authoring.pytest_plugin"]
