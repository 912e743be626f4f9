"""examples/quickstart.ipynb runs clean from top to bottom (in a kernel, as a reader runs it), so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_the_quickstart_notebook_runs_clean(tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient", reason="the dev extra brings nbclient and ipykernel")
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    redirect = f"import forecast.api.session as s, pathlib; s.API_OUTPUTS = pathlib.Path({str(tmp_path)!r})"
    notebook.cells.insert(0, nbformat.v4.new_code_cell(redirect))  # its runs go to tmp_path, not outputs/api/
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3")
    client.execute(cwd=str(NOTEBOOK.parent))  # a failing cell raises CellExecutionError with its traceback
    texts = ["".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")) for c in notebook.cells[1:]
             if c.cell_type == "code" for o in c.outputs]  # fmt: skip
    assert texts[0].startswith("gru on MSFT: test MAE ")
    assert "2021-04-22" in texts[2] and "2021-04-21" in texts[2]  # predict forecasts from the newest close
    assert [line.split()[0] for line in texts[3].splitlines()[2:]] == ["rnn", "lstm", "gru", "mingru"]
    assert len(list(tmp_path.iterdir())) == 5  # five runs, each in its own folder
