"""The inspection notebook runs top to bottom against a tiny generated dataset, so it never rots."""

import os

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "notebooks", "inspect_dataset.ipynb")


def test_inspection_notebook_executes(tiny_dataset, monkeypatch):
    """Run as Jupyter runs it, from notebooks/, with the dataset path given relative to the repo root."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(NOTEBOOK)))
    monkeypatch.setenv("CHARTSYNTH_DATASET", os.path.relpath(tiny_dataset, repo))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": os.path.join(repo, "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # charts and plots were drawn
