"""Group lines into patterns and choose which lines a crushed output keeps.

A *unit* is one line or a run of identical consecutive lines (shown once with ``(xN)``). Units are
grouped by pattern: their template for logs and text, their file for search results. Selection
fills a line budget in priority order: problem lines (with context) and the edges first, then the
lines the query asks about, then one representative per pattern, rare patterns first.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from headroom_core._sequences import ComputedSequence
from headroom_core.transforms._lines.templates import Template, kinds_of

__all__ = [
    "Group",
    "Plan",
    "Unit",
    "Units",
    "distinct_variants",
    "fold_runs",
    "group_by_key",
    "group_by_template",
    "select",
]

# Fuzzy merging of templates is quadratic in their number; beyond this many it is skipped.
_FUZZY_MAX_TEMPLATES = 2000
# A masked slot taking at most this many values in a group is a state, not a counter or an id:
# each of its values marks a distinct variant of a problem line.
_STATE_VALUES = 5
_MAX_VARIANTS = 5


@dataclass(frozen=True, slots=True)
class Unit:
    """A line, or a run of identical consecutive lines, starting at ``index``."""

    index: int
    count: int


@dataclass
class Group:
    """Units sharing one pattern; ``members`` are unit positions in document order (an array:
    a long log's groups hold a position per line)."""

    key: str
    members: array[int] = field(default_factory=lambda: array("i"))

    @property
    def representative(self) -> int:
        """The unit shown for the whole group (its first occurrence)."""
        return self.members[0]


@dataclass
class Plan:
    """Which units to keep, and which group each kept representative stands for."""

    kept: set[int]
    represents: dict[int, Group]
    omitted: list[Group] = field(default_factory=list)


class Units(ComputedSequence[Unit]):
    """The units of an output in column form: each run's first line and length, 16 bytes a
    unit instead of an object (long logs have one unit per line)."""

    __slots__ = ("counts", "starts")

    def __init__(self) -> None:
        self.starts = array("q")
        self.counts = array("q")

    def __len__(self) -> int:
        return len(self.starts)

    def _at(self, index: int) -> Unit:
        return Unit(self.starts[index], self.counts[index])

    def __iter__(self) -> Iterator[Unit]:
        return map(Unit, self.starts, self.counts)


def fold_runs(lines: Sequence[str]) -> Units:
    """Fold runs of identical consecutive lines into units (the lossless step)."""
    units = Units()
    start = 0
    for index in range(1, len(lines) + 1):
        if index == len(lines) or lines[index] != lines[start]:
            units.starts.append(start)
            units.counts.append(index - start)
            start = index
    return units


def group_by_key(keys: Iterable[str]) -> list[Group]:
    """Group unit positions whose keys are equal, in order of first appearance."""
    groups: dict[str, Group] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, Group(key)).members.append(position)
    return list(groups.values())


def group_by_template(
    template_texts: Sequence[str], similarity_threshold: float, problems: Sequence[bool]
) -> list[Group]:
    """Group units by template text, merging near-identical templates with rapidfuzz.

    Templates seen once (anomalies) and templates of problem lines (each distinct error matters)
    are never merged.
    """
    exact = group_by_key(template_texts)
    if len(exact) > _FUZZY_MAX_TEMPLATES or similarity_threshold >= 100:
        return exact
    merged: list[Group] = []
    choices: list[str] = []
    for group in exact:
        mergeable = len(group.members) > 1 and not problems[group.members[0]]
        match = (
            process.extractOne(
                group.key, choices, scorer=fuzz.ratio, score_cutoff=similarity_threshold
            )
            if choices and mergeable
            else None
        )
        if (
            match is None
            or len(merged[match[2]].members) < 2
            or problems[merged[match[2]].members[0]]
        ):
            merged.append(group)
            choices.append(group.key)
        else:
            merged[match[2]].members.extend(group.members)
    for group in merged:
        group.members = array("i", sorted(group.members))
    return merged


def distinct_variants(members: Sequence[int], templates: Sequence[Template] | None) -> list[int]:
    """The first member of each variant of a pattern: members differing in a low-cardinality
    slot ("error state 6" / "error state 7") are different variants; ids and times are not."""
    if templates is None or len(members) < 2:
        return list(members[:1])
    kinds = kinds_of(templates[members[0]].text)
    if any(kinds_of(templates[m].text) != kinds for m in members):
        return list(members[:1])
    most = min(_STATE_VALUES, len(members) - 1)
    # a slot's values are collected only up to one past ``most``: ids would fill them all
    values: list[set[str]] = [set() for _kind in kinds]
    for member in members:
        row = templates[member].values
        if len(row) != len(kinds):
            return list(members[:1])
        for slot_values, value in zip(values, row, strict=True):
            if len(slot_values) <= most:
                slot_values.add(value)
    states = [
        slot for slot, kind in enumerate(kinds) if kind != "time" and 1 < len(values[slot]) <= most
    ]
    seen: dict[tuple[str, ...], int] = {}
    for member in members:
        row = templates[member].values
        signature = tuple(row[slot] for slot in states)
        seen.setdefault(signature, member)
    return sorted(seen.values())[:_MAX_VARIANTS]


def select(
    groups: Sequence[Group],
    unit_count: int,
    *,
    limit: int,
    edges: Sequence[int],
    relevant: Sequence[int],
    is_problem: Callable[[int], bool],
    variants: Callable[[list[int]], list[int]],
    context: int,
) -> Plan:
    """Choose the kept units.

    Problem lines (the first of each variant of each problem pattern; the pattern's first one
    with ``context`` units around it) are always kept, outside the budget. Up to ``limit // 2``
    query-relevant units come next; the edges and one representative per remaining pattern
    (rare patterns first) fill what is left of ``limit``.

    Args:
        groups: Every unit's group.
        unit_count: Number of units.
        limit: Line budget.
        edges: First and last units, in the order they should be kept.
        relevant: Query-relevant units, best first.
        is_problem: Whether a unit is an error/warning/failure line.
        variants: The problem units of one group to keep (see :func:`distinct_variants`).
        context: Units kept on each side of a problem line.
    """
    kept: set[int] = set()
    represents: dict[int, Group] = {}
    for group in groups:
        problems = [member for member in group.members if is_problem(member)]
        if not problems:
            continue
        first = problems[0]
        kept.update(range(max(0, first - context), min(unit_count, first + context + 1)))
        kept.update(variants(problems))
        represents[first] = group
    must = len(kept)
    kept.update(relevant[: max(1, limit // 2)])
    room = limit - (len(kept) - must)
    for unit in edges:
        if room <= 0:
            break
        if unit not in kept:
            kept.add(unit)
            room -= 1
    omitted: list[Group] = []
    for group in sorted(groups, key=lambda group: (len(group.members) > 1, group.members[0])):
        if any(member in represents for member in group.members):
            continue
        shown = next((member for member in group.members if member in kept), None)
        if shown is None:
            if room <= 0:
                omitted.append(group)
                continue
            shown = group.representative
            kept.add(shown)
            room -= 1
        represents[shown] = group
    return Plan(kept, represents, omitted)
