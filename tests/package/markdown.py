"""The fenced code blocks of README.md and docs/*.md, with the marks that say how to run them.

A block may be preceded (blank lines allowed) by an HTML comment that the reader does not see:

- ``<!-- snippet: skip (needs a GPU) -->``: not run; the test reports the reason as its skip;
- ``<!-- snippet: continues -->``: runs after the python block before it, in the same namespace
  (the text says so, e.g. "this snippet goes on from the one above").

Every other ``python`` block must run on its own, as written.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
MARK = re.compile(r"^\s*<!--\s*snippet:\s*(skip|continues)\s*(?:\((.*)\))?\s*-->\s*$")
SHELL_LANGUAGES = ("bash", "sh", "shell", "console", "")
SHELL_KEYWORDS = ("do", "then", "else", "time")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and its mark."""

    path: Path
    line: int  # the line of its first code line, 1-based
    language: str
    code: str
    skip: str | None = None
    continues: bool = False

    @property
    def name(self) -> str:
        """``README.md:30``, for test ids and tracebacks."""
        return f"{self.path.relative_to(REPO)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every page under docs/, in a stable order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, language = opening.groups()
        end = _closing(lines, index + 1)
        code = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end]) + "\n"
        mark = _mark(lines, index)
        skip = (mark[1] or "marked skip") if mark and mark[0] == "skip" else None
        continues = bool(mark) and mark[0] == "continues"
        found.append(Block(path, index + 2, language.lower(), code, skip, continues))
        index = end + 1
    return found


def _closing(lines: list[str], start: int) -> int:
    for index in range(start, len(lines)):
        if lines[index].strip() == "```":
            return index
    raise ValueError(f"unclosed code fence opened before line {start}")


def _mark(lines: list[str], fence: int) -> tuple[str, str | None] | None:
    """The snippet mark on the nearest non-blank line above a fence, if any."""
    for index in range(fence - 1, -1, -1):
        if lines[index].strip():
            match = MARK.match(lines[index])
            return match.groups() if match else None  # type: ignore[return-value]
    return None


def python_programs() -> list[list[Block]]:
    """Python blocks grouped into what runs together: a block and the ones that continue it."""
    programs: list[list[Block]] = []
    for path in documents():
        previous: list[Block] | None = None
        for block in blocks(path):
            if block.language != "python":
                continue
            if block.continues:
                if previous is None:
                    raise ValueError(f"{block.name}: 'continues' with no python block before it")
                previous.append(block)
            else:
                previous = [block]
                programs.append(previous)
    return programs


def shell_commands() -> list[tuple[Block, int, list[str]]]:
    """Each simple command of the shell blocks (bash or unlabelled): its line and its words."""
    commands = []
    for path in documents():
        for block in blocks(path):
            if block.language in SHELL_LANGUAGES:
                for offset, words in _commands(block.code):
                    commands.append((block, block.line + offset, words))
    return commands


def _commands(code: str) -> list[tuple[int, list[str]]]:
    """Simple commands of a script, by line offset: continuations joined, ``&&``/``;``/``|``
    split, loops unrolled (a loop variable, ``for seed in 0 1 2``, takes its first value).
    """
    loop_values = dict(re.findall(r"\bfor\s+(\w+)\s+in\s+(\S+)", code))
    commands: list[tuple[int, list[str]]] = []
    pending, start = "", 0
    for offset, line in enumerate(code.splitlines()):
        start = offset if not pending else start
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line + "\n"
        try:
            words = _words(pending)
        except ValueError:  # a quote still open: the command goes on on the next line
            continue
        pending = ""
        expanded = (_expand(command, loop_values) for command in _split(words))
        commands += [(start, command) for command in expanded if command]
    if pending:
        raise ValueError(f"unterminated shell text: {pending!r}")
    return commands


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _split(words: list[str]) -> list[list[str]]:
    commands: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(word)
    return commands


def _expand(command: list[str], loop_values: dict[str, str]) -> list[str]:
    """A command without leading shell keywords, its loop variables replaced; [] for loop syntax."""
    while command and command[0] in SHELL_KEYWORDS:
        command = command[1:]
    if not command or command[0] in ("for", "done", "fi", "while"):
        return []
    return [re.sub(r"\$(\w+)", lambda m: loop_values.get(m[1], m[0]), word) for word in command]
