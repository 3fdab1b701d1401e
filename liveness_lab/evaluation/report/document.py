"""A tiny document model rendered to both HTML and Markdown, and the report's formatting.

Blocks (headings, paragraphs, lists, tables, images, preformatted text) are collected in
a :class:`Doc` and rendered by :meth:`Doc.to_markdown` / :meth:`Doc.to_html`. Table cells
are strings or ``(text, css_class)`` pairs (``met`` / ``notmet`` / ``na`` highlight).
"""

from __future__ import annotations

import html
import math
from typing import Any, Sequence

__all__ = ["Doc", "nan", "pct", "ci", "num", "status", "slug"]

# --------------------------------------------------------------------------------------------
# a tiny document model rendered to both HTML and Markdown

class Doc:
    def __init__(self) -> None:
        self.blocks: list[tuple[Any, ...]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str, cls: str | None = None) -> None:
        self.blocks.append(("p", text, cls))

    def ul(self, items: Sequence[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Cells are strings, or ``(text, css_class)`` pairs."""
        self.blocks.append(("table", list(headers), [list(r) for r in rows]))

    def img(self, file: str, alt: str) -> None:
        self.blocks.append(("img", file, alt))

    def pre(self, text: str) -> None:
        self.blocks.append(("pre", text))

    # -- renderers -------------------------------------------------------------------------
    def to_markdown(self) -> str:
        out: list[str] = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("#" * b[1] + " " + b[2])
            elif kind == "p":
                out.append(f"**{b[1]}**" if b[2] in ("met", "notmet") else b[1])
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in b[1]))
            elif kind == "table":
                def cell(c: Any) -> str:
                    text, cls = (c if isinstance(c, tuple) else (c, None))
                    text = str(text).replace("|", "\\|").replace("\n", " ")
                    return f"**{text}**" if cls in ("met", "notmet") else text
                lines = ["| " + " | ".join(cell(h) for h in b[1]) + " |",
                         "|" + "|".join(" --- " for _ in b[1]) + "|"]
                lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b[2]]
                out.append("\n".join(lines))
            elif kind == "img":
                out.append(f"![{b[2]}]({b[1]})")
            elif kind == "pre":
                out.append("```\n" + b[1] + "\n```")
        return "\n\n".join(out) + "\n"

    def to_html(self, title: str) -> str:
        e = html.escape
        body: list[str] = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                body.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
            elif kind == "p":
                cls = f' class="{b[2]}"' if b[2] else ""
                body.append(f"<p{cls}>{e(b[1])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b[1]) + "</ul>")
            elif kind == "table":
                def cell(c: Any, tag: str) -> str:
                    text, cls = (c if isinstance(c, tuple) else (c, None))
                    attr = f' class="{cls}"' if cls else ""
                    return f"<{tag}{attr}>{e(str(text))}</{tag}>"
                head = "".join(cell(h, "th") for h in b[1])
                rows = "".join("<tr>" + "".join(cell(c, "td") for c in r) + "</tr>"
                               for r in b[2])
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif kind == "img":
                body.append(f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"/>'
                            f"<figcaption>{e(b[2])}</figcaption></figure>")
            elif kind == "pre":
                body.append(f"<pre>{e(b[1])}</pre>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
                f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
                + "\n".join(body) + "\n</body></html>\n")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right}
.met{background:#e3f4e3;color:#145214;font-weight:600}
.notmet{background:#fbe3e3;color:#7a1010;font-weight:600}
.na{color:#888}.note{color:#555;font-size:0.9em}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:0.85em;color:#555}
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto;font-size:0.85em}
"""


# --------------------------------------------------------------------------------------------
# formatting

def nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def pct(v: Any, digits: int = 1) -> str:
    return "n/a" if nan(v) else f"{100 * v:.{digits}f} %"


def ci(interval: Any) -> str:
    if not interval or nan(interval[0]) or nan(interval[1]):
        return "n/a"
    return f"[{100 * interval[0]:.1f} %, {100 * interval[1]:.1f} %]"


def num(v: Any) -> str:
    if nan(v):
        return "n/a"
    if isinstance(v, float):
        if math.isinf(v):
            return "+inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def status(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return ("n/a", "na")
    return ("met", "met") if ok else ("not met", "notmet")


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(text)).strip("-") or "x"


