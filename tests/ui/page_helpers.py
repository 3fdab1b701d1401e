"""AppTest helpers of the studio's page tests: a page's AppTest, its verdicts, its errors."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

import ui_helpers

TIMEOUT = 60


def page(name: str, *, in_process: bool = True) -> AppTest:
    script = ui_helpers.page_script(name, in_process="IN_PROCESS" if in_process else None)
    return AppTest.from_string(script, default_timeout=TIMEOUT)


def now_ms() -> int:
    return int(time.time() * 1000)


def verdicts(at: AppTest) -> list[str]:
    """The ``data-verdict`` of every verdict badge on the page."""
    out = []
    for h in at.get("html"):
        if 'data-testid="ll-verdict"' in h.value:
            out.append(h.value.split('data-verdict="', 1)[1].split('"', 1)[0])
    return out


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
