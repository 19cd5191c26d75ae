"""What a question about code points at: the names it mentions and the text it quotes."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from headroom_core.relevance.terms import compound_tokens
from headroom_core.transforms._lines.query import quoted_phrases

__all__ = ["CodeFocus", "normalise_name"]

# English words a question uses that also name functions often (``get``, ``run``): a block is
# not relevant just because its name is one of these.
_COMMON_WORDS_TEXT = (
    "a an and are as at be by can do does did for from get has have how i if in is it its "
    "line lines me my of on or return returns set show that the their them then this to "
    "use used uses was what when where which who why will with code file function method "
    "class def value values type call calls called run new main init"
)
_COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())
_FILE_EXTENSIONS_TEXT = (
    "py pyi js jsx mjs cjs ts tsx go rs java kt scala c h cc cpp hpp cs rb php swift m sh "
    "txt md json yaml yml toml xml html css sql"
)
_FILE_EXTENSIONS = frozenset(_FILE_EXTENSIONS_TEXT.split())
# Each identifier is searched in every line: a long pasted query must not make that slow.
_MAX_IDENTIFIERS = 32
_CAMEL_RE = re.compile(r"[a-z0-9][A-Z]")
_WORD_RE = re.compile(r"^[A-Za-z_$][\w$]*$")


def normalise_name(name: str) -> str:
    """``get_repo``, ``getRepo`` and ``GetRepo`` all become ``getrepo``."""
    return name.replace("_", "").replace("$", "").lower()


@dataclass(frozen=True)
class CodeFocus:
    """The parts of a query used to pick code blocks.

    ``names``: normalised words and joined word pairs, matched against definition names.
    ``identifiers``: tokens written like code (``snake_case``, ``camelCase``, ``CONST``, dotted
    parts) and quoted phrases, matched literally against lines.
    """

    names: frozenset[str]
    identifiers: tuple[str, ...]

    @classmethod
    def of(cls, query: str) -> CodeFocus:
        """The focus of ``query`` (empty for an empty query)."""
        names: set[str] = set()
        identifiers: list[str] = list(quoted_phrases(query))
        words: list[str] = []
        for token in compound_tokens(query):
            parts = [part for part in re.split(r"[.:\-]+", token) if part]
            if "/" in token or (len(parts) > 1 and parts[-1].lower() in _FILE_EXTENSIONS):
                continue  # a path or file name names a file, not a definition
            if len(parts) > 1 and all(_WORD_RE.match(part) for part in parts):
                identifiers.append(token)
            for part in parts:
                if not _WORD_RE.match(part):
                    continue
                words.append(part)
                if _looks_like_code(part):
                    identifiers.append(part)
                dotted = len(parts) > 1  # ``subprocess.run``: every part names code
                if dotted or (part.lower() not in _COMMON_WORDS and len(part) > 2):
                    names.add(normalise_name(part))
        for first, second in itertools.pairwise(words):
            if first.lower() not in _COMMON_WORDS and second.lower() not in _COMMON_WORDS:
                names.add(normalise_name(first + second))
        return cls(frozenset(names), tuple(dict.fromkeys(identifiers))[:_MAX_IDENTIFIERS])

    def __bool__(self) -> bool:
        return bool(self.names or self.identifiers)

    def names_block(self, name: str) -> bool:
        """Whether a definition called ``name`` is one the query names."""
        return normalise_name(name) in self.names

    def matching_lines(self, lines: list[str]) -> dict[str, list[int]]:
        """For each identifier, the lines containing it as a whole word (or phrase)."""
        found: dict[str, list[int]] = {}
        for identifier in self.identifiers:
            pattern = re.compile(rf"(?<![\w$]){re.escape(identifier)}(?![\w$])")
            hits = [
                index
                for index, line in enumerate(lines)
                if identifier in line and pattern.search(line)
            ]
            if hits:
                found[identifier] = hits
        return found


def _looks_like_code(token: str) -> bool:
    """``snake_case``, ``camelCase``, ``CONSTANT`` or ``name2``: a word written as an identifier."""
    return (
        "_" in token.strip("_")
        or bool(_CAMEL_RE.search(token))
        or (token.isupper() and len(token) > 2)
        or (any(c.isdigit() for c in token) and any(c.isalpha() for c in token))
    )
