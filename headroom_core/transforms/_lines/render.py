"""Write a crushed output: kept lines verbatim, group counts, value ranges, a closing marker."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain

from headroom_core.transforms._lines.search import grep_line_number
from headroom_core.transforms._lines.selection import Group, Plan, Unit
from headroom_core.transforms._lines.templates import Template, ValueRange, kinds_of

__all__ = ["group_note", "is_crushed", "omission_marker", "render"]

_MAX_RANGES = 3
_MARKER_RE = re.compile(r"^\[\d+ of \d+ lines omitted; ")
_MAX_LISTED_LINES = 12
_MAX_NAMED_FILES = 30


def render(
    lines: Sequence[str], units: Sequence[Unit], plan: Plan, notes: dict[int, str]
) -> list[str]:
    """The kept units in document order; runs get ``(xN)``, representatives their group note."""
    out: list[str] = []
    for position, unit in enumerate(units):
        if position not in plan.kept:
            continue
        line = lines[unit.index]
        text = line.removesuffix("\r")  # a CRLF line keeps its CR at the very end
        ending = line[len(text) :]
        if unit.count > 1:
            text += f" (x{unit.count})"
        note = notes.get(position)
        if note:
            text += f"  {note}"
        out.append(text + ending)
    return out


def group_note(
    group: Group,
    plan: Plan,
    units: Sequence[Unit],
    lines: Sequence[str],
    templates: Sequence[Template] | None,
) -> str | None:
    """The note on a group's representative: how many lines it stands for and how they vary."""
    hidden = [member for member in group.members if member not in plan.kept]
    if not hidden or not lines[units[group.members[0]].index].strip():
        return None  # nothing hidden, or only blank lines
    total = sum(units[member].count for member in group.members)
    if templates is None:
        numbers = [grep_line_number(lines[units[member].index]) for member in hidden]
        listed = ", ".join(number for number in numbers[:_MAX_LISTED_LINES] if number)
        more = ", ..." if len(numbers) > _MAX_LISTED_LINES else ""
        hits = "hit" if len(hidden) == 1 else "hits"
        return f"[+{len(hidden)} more {hits} in this file: lines {listed}{more}]"
    ranges = _value_ranges(map(templates.__getitem__, group.members))  # one line at a time
    described = [text for text in (value.describe() for value in ranges) if text][:_MAX_RANGES]
    return f"[x{total} similar lines{'; ' if described else ''}{'; '.join(described)}]"


def _value_ranges(templates: Iterable[Template]) -> list[ValueRange]:
    """The range of each value slot over the templates shaped like the first one."""
    members = iter(templates)
    first = next(members)
    kinds = kinds_of(first.text)
    first_values = first.values
    if len(kinds) != len(first_values):  # the line itself held a "<num>"-like mark
        return []
    pairs = zip(kinds, first_values, strict=True)
    ranges = [ValueRange(kind, value, value) for kind, value in pairs]
    for template in chain([first], members):
        values = template.values
        if len(values) == len(kinds) and (
            template.text == first.text or kinds_of(template.text) == kinds
        ):
            for value_range, value in zip(ranges, values, strict=True):
                value_range.add(value)
    return ranges


def omission_marker(
    dropped: int,
    total: int,
    omitted: Sequence[tuple[str, int]],
    key: str | None,
    *,
    name_groups: bool,
) -> str:
    """The closing line: what was left out (files by name for search hits) and how to get it."""
    text = (
        f"[{dropped} of {total} lines omitted; lines marked [xN] or [+N] stand for lines like them"
    )
    if omitted and name_groups:
        named = ", ".join(f"{name} ({count})" for name, count in omitted[:_MAX_NAMED_FILES])
        more = (
            f" and {len(omitted) - _MAX_NAMED_FILES} more"
            if len(omitted) > _MAX_NAMED_FILES
            else ""
        )
        text += f"; hits in other files: {named}{more}"
    elif omitted:
        text += f"; {len(omitted)} other line patterns not shown"
    if key:
        text += f'; to see them call headroom_retrieve with key "{key}"'
    return text + "]"


def is_crushed(text: str) -> bool:
    """Whether ``text`` is already a crushed output (it ends with the omission marker)."""
    tail = text.rstrip().rsplit("\n", 1)[-1]
    return _MARKER_RE.match(tail) is not None
