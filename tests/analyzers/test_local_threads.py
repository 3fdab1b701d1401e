"""One LocalAnalyzer shared by several threads (as a service's worker pool may do)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_shared_analyzer_is_thread_safe():
    # run in a child process: without the lock, dlib corrupts its heap and aborts the process
    code = textwrap.dedent("""
        import threading
        import numpy as np
        from liveness_lab.analyzers.local import LocalAnalyzer
        from liveness_lab.synth.render import load_photo
        img = load_photo("grace_hopper")
        a = LocalAnalyzer()
        ref = a.analyze(img)
        bad = []
        def run():
            for _ in range(8):
                if a.analyze(img) != ref:
                    bad.append(1)
        ts = [threading.Thread(target=run) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print("mismatches", len(bad), "faces", len(ref))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "mismatches 0 faces 1" in r.stdout
