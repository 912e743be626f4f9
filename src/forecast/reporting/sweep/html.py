"""The sweep report as one self-contained HTML page (its plots embedded)."""

from __future__ import annotations

import base64
import re
from pathlib import Path


def to_html(markdown_text: str, base: Path) -> str:
    """Return a self-contained HTML page: the markdown rendered, every ``plots/*.png`` embedded as base64."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])

    def embed(match: re.Match[str]) -> str:
        path = base / match.group(1)
        if not path.exists():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    body = re.sub(r'src="(plots/[^"]+\.png)"', embed, body)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;font-size:0.9em;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}img{max-width:100%}"
    )
    head = f"<meta charset='utf-8'><title>forecast report</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
