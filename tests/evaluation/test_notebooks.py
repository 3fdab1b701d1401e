"""The notebooks run top to bottom (nbclient) on a kernel of this very interpreter.

A kernelspec pointing at ``sys.executable`` is written to a temporary ``JUPYTER_PATH``, so
nothing is registered globally and the kernel always runs the project's virtualenv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "liveness-lab-tests"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "liveness-lab (tests)", "language": "python",
        "env": {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root))
    yield KERNEL
    mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["quickstart", "tuning_nose", "custom_challenge"])
def test_notebook_runs(name, kernel_name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel_name, timeout=180,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for o in outputs)
    if name == "quickstart":
        assert "APCER (max over species)" in text and "BPCER20" in text
    elif name == "tuning_nose":
        assert "selected the lowest bpcer" in text and "threshold (from dev)" in text
    else:
        assert "nose3d.planar" in text
