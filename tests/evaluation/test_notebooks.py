"""The notebooks run top to bottom (nbclient) on a kernel of this very interpreter, and give
the outputs they are committed with.

A kernelspec pointing at ``sys.executable`` is written to a temporary ``JUPYTER_PATH``, so
nothing is registered globally and the kernel always runs the project's virtualenv. The
notebooks are executed and normalised exactly as ``notebooks/execute_notebooks.py`` does
before they are committed, so a change of results shows as a failing test here (re-run that
script and commit the notebook when the change is intended).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["quickstart", "tuning_nose", "tuning_hardened", "custom_challenge"]


def _tools():
    spec = importlib.util.spec_from_file_location("execute_notebooks",
                                                  NOTEBOOKS / "execute_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    module = _tools()
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(module.kernelspec_dir(tmp_path_factory.mktemp("jupyter"))))
    yield module
    mp.undo()


def test_every_notebook_is_executed_here():
    assert sorted(NAMES) == sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_matches_its_committed_outputs(name, tools):
    import nbformat

    path = NOTEBOOKS / f"{name}.ipynb"
    committed = nbformat.read(path, as_version=4)
    nb = tools.execute(path, tools.KERNEL)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # committed with outputs, and those are what running it gives (diff-stable)
    # every cell that prints when run was committed with what it printed (cells that only
    # define or compute print nothing, and progress bars / stderr are not kept)
    ran = [c for c in nb.cells if c.cell_type == "code"]
    kept = [c for c in committed.cells if c.cell_type == "code"]
    assert len(ran) == len(kept) and all(k.outputs for r, k in zip(ran, kept) if r.outputs), \
        f"{name}: commit it with its outputs (python notebooks/execute_notebooks.py {name})"
    assert tools.text_outputs(nb) == tools.text_outputs(committed), \
        f"{name}: outputs changed; re-run notebooks/execute_notebooks.py {name} if intended"
    assert committed.metadata == tools.METADATA
    text = "\n".join(t for cell in tools.text_outputs(nb) for t in cell)
    if name == "quickstart":
        assert "APCER (max over species)" in text and "BPCER20" in text
    elif name == "tuning_nose":
        assert "selected the lowest bpcer" in text and "threshold (from dev)" in text
    elif name == "tuning_hardened":
        assert "nose.min_parallax" in text and "APCER face_swap" in text
    else:
        assert "nose3d.planar" in text
