"""The structure of a Markdown (or plain prose) document: blocks, and sections under headings.

A document is read as blocks of whole lines: front matter, headings (``#`` lines and underlined
titles), fenced code blocks (a ``#`` line inside one is code, not a heading; a fence never
closed runs to the end), tables, lists and paragraphs, separated by blank lines. A section is a
heading and the blocks up to the next heading; lines before the first heading form a section
without one. Compressing by these units keeps headings as structure and code blocks balanced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from headroom_core.transforms._lines.prose import FENCE_RE

__all__ = ["Block", "Section", "parse_blocks", "parse_sections"]

BlockKind = Literal["front_matter", "heading", "code", "table", "list", "paragraph"]

_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:\s+|$)")
_UNDERLINE_RE = re.compile(r"^ {0,3}(=+|-+)\s*$")
_LIST_RE = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S")
_TABLE_RE = re.compile(r"^\s*\|")


@dataclass(frozen=True)
class Block:
    """Lines ``start`` to ``end`` (inclusive) of one kind; ``level`` for headings (1-6)."""

    kind: BlockKind
    start: int
    end: int
    level: int = 0


@dataclass
class Section:
    """A heading (None before the first one) and the blocks under it, up to the next heading."""

    heading: Block | None
    blocks: list[Block] = field(default_factory=list)

    @property
    def start(self) -> int:
        """First line of the section."""
        if self.heading is not None:
            return self.heading.start
        return self.blocks[0].start if self.blocks else 0

    @property
    def end(self) -> int:
        """Last line of the section (its last block's)."""
        if self.blocks:
            return self.blocks[-1].end
        return self.heading.end if self.heading is not None else 0

    @property
    def level(self) -> int:
        """The heading's level; 0 for the lines before the first heading."""
        return self.heading.level if self.heading is not None else 0

    def title(self, lines: Sequence[str]) -> str:
        """The heading's text without its ``#`` marks or underline; "" without a heading."""
        if self.heading is None:
            return ""
        return lines[self.heading.start].strip().strip("#").strip()


def parse_blocks(lines: Sequence[str]) -> list[Block]:
    """The blocks of ``lines`` in order (blank lines belong to none)."""
    blocks: list[Block] = []
    index = 0
    count = len(lines)
    if count > 2 and lines[0].strip() == "---":  # YAML front matter
        closing = next((i for i in range(1, count) if lines[i].strip() in ("---", "...")), None)
        if closing is not None:
            blocks.append(Block("front_matter", 0, closing))
            index = closing + 1
    while index < count:
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        fence = FENCE_RE.match(line)
        if fence is not None:
            end = _fence_end(lines, index, fence.group(0).strip())
            blocks.append(Block("code", index, end))
            index = end + 1
            continue
        atx = _ATX_RE.match(line)
        if atx is not None:
            blocks.append(Block("heading", index, index, len(atx.group(1))))
            index += 1
            continue
        if _is_underlined(lines, index):
            level = 1 if lines[index + 1].strip().startswith("=") else 2
            blocks.append(Block("heading", index, index + 1, level))
            index += 2
            continue
        end = index
        while (
            end + 1 < count
            and lines[end + 1].strip()
            and not FENCE_RE.match(lines[end + 1])
            and not _ATX_RE.match(lines[end + 1])
            and not _is_underlined(lines, end + 1)
        ):
            end += 1
        kind: BlockKind = (
            "table" if _TABLE_RE.match(line) else "list" if _LIST_RE.match(line) else "paragraph"
        )
        blocks.append(Block(kind, index, end))
        index = end + 1
    return blocks


def parse_sections(lines: Sequence[str]) -> list[Section]:
    """The sections of ``lines``: the lines before the first heading (when any), then one per
    heading."""
    sections: list[Section] = []
    current = Section(None)
    for block in parse_blocks(lines):
        if block.kind == "heading":
            if current.heading is not None or current.blocks:
                sections.append(current)
            current = Section(block)
        else:
            current.blocks.append(block)
    if current.heading is not None or current.blocks:
        sections.append(current)
    return sections


def _fence_end(lines: Sequence[str], start: int, opening: str) -> int:
    """The line closing the fence opened at ``start`` (the last line when it never closes)."""
    char, size = opening[0], len(opening)
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(char * size) and not stripped.strip(char):
            return index
    return len(lines) - 1


def _is_underlined(lines: Sequence[str], index: int) -> bool:
    """Whether ``lines[index]`` is a title underlined with ``===`` or ``---`` (a setext heading):
    text after a blank line (or at the start), an underline at least half its length."""
    if index + 1 >= len(lines) or not lines[index].strip():
        return False
    if index > 0 and lines[index - 1].strip():
        return False
    underline = _UNDERLINE_RE.match(lines[index + 1])
    title = lines[index].strip()
    return (
        underline is not None
        and len(underline.group(1)) >= max(3, len(title) // 2)
        and not _LIST_RE.match(lines[index])
        and not _TABLE_RE.match(lines[index])
    )
