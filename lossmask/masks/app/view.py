"""`lossmask show`: one sample's tokens, trained or context, in the terminal and as an HTML page.

Every cell is a *target* (the token being predicted), so what you see is exactly what the loss sees.
With a second setting, every token whose status differs between the two is marked.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from typing import Any

import click

from lossmask.masks.engine.sample import TokenProvenance, TrainingSample


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's byte-to-printable-character table used by byte-level BPE."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    byte_values, chars = list(printable), list(printable)
    extra = 0
    for byte in range(256):
        if byte not in byte_values:
            byte_values.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(byte_values, chars, strict=True)}


def token_texts(tokenizer: Any, ids: list[int]) -> list[str]:
    """The text of each token; a character split over several byte tokens shows on its last one."""
    pieces = tokenizer.convert_ids_to_tokens(ids)
    added = set(tokenizer.get_added_vocab())
    decoder = _byte_decoder()
    if not all(p in added or all(c in decoder for c in p) for p in pieces):
        return [tokenizer.decode([i]) for i in ids]
    texts: list[str] = []
    pending = b""
    for piece in pieces:
        if piece in added:
            texts.append(piece)
            pending = b""
            continue
        pending += bytes(decoder[c] for c in piece)
        try:
            texts.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            texts.append("")
    return texts


@dataclass(frozen=True)
class Cell:
    text: str
    token_id: int
    trained: bool
    other: bool | None  # status under the compared setting, None without one
    provenance: TokenProvenance
    # The template's `{% generation %}` blocks say the opposite of serving about this token.
    tags_disagree: bool = False

    @property
    def differs(self) -> bool:
        return self.other is not None and self.other != self.trained


@dataclass
class View:
    title: str
    setting: str
    other_setting: str | None
    first_token: str  # the first input token: context for everything, never a target
    cells: list[Cell]
    truncated: bool

    def counts(self) -> dict[str, int]:
        return {
            "targets": len(self.cells),
            "trained": sum(c.trained for c in self.cells),
            "context": sum(not c.trained for c in self.cells),
            "only_this": sum(c.differs and c.trained for c in self.cells),
            "only_other": sum(c.differs and not c.trained for c in self.cells),
            "tags_disagree": sum(c.tags_disagree for c in self.cells),
        }


def build_view(
    tokenizer: Any,
    sample: TrainingSample,
    *,
    title: str,
    setting: str,
    other: TrainingSample | None = None,
    other_setting: str | None = None,
    tags_disagree: frozenset[int] = frozenset(),
) -> View:
    """`tags_disagree`: target positions where a template's `{% generation %}` blocks disagree
    with the sampled mask derived from serving."""
    if other is not None and other.target_ids != sample.target_ids:
        raise ValueError("the two settings render different tokens; they cannot be compared")
    texts = token_texts(tokenizer, [*sample.input_ids[:1], *sample.target_ids])
    cells = [
        Cell(
            text,
            token_id,
            trained,
            other.loss_mask[k] if other is not None else None,
            origin,
            k in tags_disagree,
        )
        for k, (text, token_id, trained, origin) in enumerate(
            zip(texts[1:], sample.target_ids, sample.loss_mask, sample.provenance, strict=True)
        )
    ]
    return View(title, setting, other_setting, texts[0], cells, sample.truncated)


def describe_cell(cell: Cell, index: int, other_setting: str | None) -> str:
    p = cell.provenance
    where = "appended by the engine" if p.message_index is None else f"message {p.message_index}"
    parts = [
        f"target #{index} id {cell.token_id} {cell.text!r}",
        f"{p.role or 'no role'} ({where})",
        f"rule {p.rule}",
        f"sampled {'yes' if p.sampled else 'no'}, {'content' if p.content else 'scaffolding'}",
        "trained" if cell.trained else "context",
    ]
    if cell.other is not None:
        parts.append(f"{'trained' if cell.other else 'context'} under {other_setting}")
    if cell.tags_disagree:
        inside = "outside" if p.sampled else "inside"
        parts.append(f"{{% generation %}} tags disagree: {inside} the tags")
    return " · ".join(parts)


def _visible(text: str) -> str:
    return text.replace("\n", "↵\n")


def _status(cell: Cell) -> str:
    if cell.differs:
        return "only-this" if cell.trained else "only-other"
    return "trained" if cell.trained else "context"


_STYLES: dict[str, dict[str, Any]] = {
    "trained": {"fg": "green", "bold": True},
    "context": {"fg": "bright_black"},
    "only-this": {"fg": "black", "bg": "yellow"},
    "only-other": {"fg": "black", "bg": "magenta"},
}
# Without colour, wdiff-style brackets carry the same information.
_BRACKETS: dict[str, tuple[str, str]] = {
    "trained": ("[[", "]]"),
    "context": ("", ""),
    "only-this": ("{+", "+}"),
    "only-other": ("{-", "-}"),
}


def _mark(status: str, text: str, color: bool) -> str:
    if color:
        return click.style(text, **_STYLES[status])
    opening, closing = _BRACKETS[status]
    return f"{opening}{text}{closing}"


TAG_MARK = "⚑"
"""Written after a token whose `{% generation %}` status disagrees with serving."""


def render_terminal(view: View, *, color: bool) -> str:
    """Trained targets green, context grey; a token trained under only one of two settings is
    highlighted (yellow: only this one, magenta: only the other). Without colour: [[trained]],
    {+trained only here+}, {-trained only there-}."""
    runs: list[tuple[str, str]] = []
    for cell in view.cells:
        status = _status(cell)
        text = cell.text + (TAG_MARK if cell.tags_disagree else "")
        if runs and runs[-1][0] == status:
            runs[-1] = (status, runs[-1][1] + text)
        else:
            runs.append((status, text))
    body = _mark("context", _visible(view.first_token), color)
    body += "".join(_mark(status, _visible(text), color) for status, text in runs)
    counts = view.counts()
    lines = [
        view.title,
        f"setting:       {view.setting}",
        *([f"compared with: {view.other_setting}"] if view.other_setting else []),
        "",
        body,
        "",
        f"{counts['targets']} targets, each aligned to the token being predicted"
        + (" (truncated at seq_len)" if view.truncated else ""),
        f"  {_mark('trained', 'trained', color)} {counts['trained']}"
        f"   {_mark('context', 'context', color)} {counts['context']}",
    ]
    if view.other_setting:
        lines.append(
            f"  {_mark('only-this', 'trained only here', color)} {counts['only_this']}"
            f"   {_mark('only-other', 'trained only there', color)} {counts['only_other']}"
        )
    if counts["tags_disagree"]:
        lines.append(
            f"  {TAG_MARK} after {counts['tags_disagree']} tokens: the template's "
            "{% generation %} tags disagree with what serving samples (the mask follows serving)"
        )
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } .meta { color: #555; margin: .2em 0; }
.legend span.key { display: inline-block; padding: 0 .4em; margin-right: .3em; border-radius: 3px; }
.tokens { font-family: ui-monospace, monospace; font-size: 14px; line-height: 1.9;
  white-space: pre-wrap; word-break: break-all; background: #fff; border: 1px solid #ddd;
  padding: 1em; border-radius: 6px; }
.t { border-radius: 3px; padding: 1px 0; cursor: default; }
.trained { background: #c8f0c8; color: #0a4d0a; font-weight: 600; }
.context { color: #888; }
.only-this { background: #ffd84d; color: #000; outline: 2px solid #b38f00; }
.only-other { background: #f3a6f3; color: #000; outline: 2px solid #a020a0; }
.t:hover { outline: 2px solid #1a5fd0; }
.tags-disagree { text-decoration: underline wavy #d03030; }
.nl { color: #bbb; font-weight: normal; }
#details { position: sticky; top: 0; background: #eef3ff; border: 1px solid #b8c8f0;
  padding: .5em .8em; border-radius: 6px; margin: .8em 0; font-family: ui-monospace, monospace;
  font-size: 13px; min-height: 1.4em; }
"""

_SCRIPT = """
const details = document.getElementById('details');
document.querySelectorAll('.t').forEach(el => el.addEventListener('mouseenter',
  () => { details.textContent = el.title; }));
"""


def render_html(view: View) -> str:
    """A self-contained page: the same view, with per-token details on hover."""
    spans = [f'<span class="t context">{html.escape(view.first_token)}</span>']
    for index, cell in enumerate(view.cells):
        classes = ["t", "trained" if cell.trained else "context"]
        if cell.differs:
            classes.append("only-this" if cell.trained else "only-other")
        if cell.tags_disagree:
            classes.append("tags-disagree")
        text = html.escape(cell.text).replace("\n", '<span class="nl">↵</span>\n')
        title = html.escape(describe_cell(cell, index, view.other_setting), quote=True)
        spans.append(f'<span class="{" ".join(classes)}" title="{title}">{text}</span>')
    counts = view.counts()
    legend = [
        f'<span class="key trained">trained</span>{counts["trained"]}',
        f'<span class="key context">context</span>{counts["context"]}',
    ]
    if view.other_setting:
        legend += [
            f'<span class="key only-this">trained only here</span>{counts["only_this"]}',
            f'<span class="key only-other">trained only there</span>{counts["only_other"]}',
        ]
    if counts["tags_disagree"]:
        legend.append(
            f'<span class="key tags-disagree">generation tags disagree</span>'
            f"{counts['tags_disagree']}"
        )
    compared = (
        f'<p class="meta">compared with: {html.escape(view.other_setting)}</p>'
        if view.other_setting
        else ""
    )
    truncated = " (truncated at seq_len)" if view.truncated else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>lossmask show: {html.escape(view.title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{html.escape(view.title)}</h1>"
        f'<p class="meta">setting: {html.escape(view.setting)}</p>{compared}'
        f'<p class="meta">{counts["targets"]} targets, each aligned to the token being '
        f"predicted{truncated}. Hover a token for its role, message and rule.</p>"
        f'<p class="legend">{" &nbsp; ".join(legend)}</p>'
        '<div id="details">hover a token</div>'
        f'<div class="tokens">{"".join(spans)}</div>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
