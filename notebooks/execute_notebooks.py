"""Execute the notebooks in place, so that they are committed with their outputs.

    python notebooks/execute_notebooks.py                 # every notebook of this folder
    python notebooks/execute_notebooks.py tuning_hardened  # one

The kernel is this very interpreter (a kernelspec in a temporary ``JUPYTER_PATH``), the
working directory is ``notebooks/``, and the saved file is normalised so that re-running
gives the same file when the results are the same: no execution timestamps or kernel
versions, no stderr streams (progress bars, warnings), cells numbered from 1. The test
suite (``tests/evaluation/test_notebooks.py``) executes every notebook the same way and
checks that its text outputs are the committed ones.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KERNEL = "liveness-lab-notebooks"
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


def kernelspec_dir(root: Path, name: str = KERNEL) -> Path:
    """Write a kernelspec running ``sys.executable`` under ``root/kernels/name``."""
    spec = root / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "liveness-lab", "language": "python",
        "env": {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning",
                "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1"}}))
    return root


def normalise(nb: Any) -> Any:
    """Drop what changes from run to run without the results changing (in place)."""
    nb.metadata = json.loads(json.dumps(METADATA))
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        outputs = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.get("name") == "stderr":
                continue
            if "execution_count" in out:
                out.execution_count = count
            outputs.append(out)
        cell.outputs = outputs
    return nb


def execute(path: Path, kernel_name: str, timeout: int = 300) -> Any:
    """Run the notebook at ``path`` top to bottom and return it, normalised."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name=kernel_name, timeout=timeout,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return normalise(nb)


def text_outputs(nb: Any) -> list[list[str]]:
    """Per code cell, its text outputs (stdout and ``text/plain``): what must not drift."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for o in cell.outputs:
            if o.output_type == "stream":
                texts.append(str(o.get("text", "")))
            elif o.output_type in ("execute_result", "display_data"):
                texts.append(str(o.get("data", {}).get("text/plain", "")))
            elif o.output_type == "error":
                texts.append(f"{o.get('ename')}: {o.get('evalue')}")
        out.append(texts)
    return out


def main(argv: list[str]) -> int:
    import os

    import nbformat

    names = argv or sorted(p.stem for p in HERE.glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTER_PATH"] = str(kernelspec_dir(Path(tmp)))
        for name in names:
            path = HERE / f"{name}.ipynb"
            nb = execute(path, KERNEL)
            nbformat.write(nb, path)
            print(f"executed {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
