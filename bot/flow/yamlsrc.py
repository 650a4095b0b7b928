"""Safe YAML loading that remembers line numbers, so `check` can say `file:line: problem`.

Only PyYAML's SafeLoader constructors are used: a `!!python/...` or any unknown tag is an
error, never code. Mappings come back as `Located` dicts that know the line of each key;
duplicate keys are reported instead of silently keeping the last one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

import yaml

from ..yamlio import SafeLoader

YamlValue = Any  # a value as YAML gives it: text, a number, a date, a Located, a LocatedList...


@dataclass(frozen=True)
class Problem:
    """One finding of `check`: an error stops the flow from loading, a warning does not."""
    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {'warning: ' if self.warning else ''}{self.message}"


class Located(dict[YamlValue, YamlValue]):
    """A dict that knows the (1-based) line of itself and of each key."""

    line: int = 0
    key_lines: dict[YamlValue, int]

    def line_of(self, key: YamlValue) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list[YamlValue]):
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(SafeLoader):  # type: ignore[misc]  # libyaml's parser when present: 5x faster
    """SafeLoader that builds Located containers and records duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, object]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[YamlValue, YamlValue]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        self.flatten_mapping(node)
        mapping = Located()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain word", key_node.start_mark) from None
            if key in mapping:
                self.duplicates.append((key_node.start_mark.line + 1, key))
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_yaml_map(self, node: yaml.MappingNode) -> Generator[dict[YamlValue, YamlValue], None, None]:
        yield self.construct_mapping(node, deep=True)

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Generator[LocatedList, None, None]:
        items = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        yield items


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_yaml_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_yaml_seq)


def load_located(text: str, filename: str) -> tuple[object, list[Problem]]:
    """Parse YAML text; return (data or None, problems)."""
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        if exc.problem and "could not determine a constructor" in exc.problem:
            tag = exc.problem.split("tag")[-1].strip(" '")
            msg = f"unsafe or unknown YAML tag {tag}: flows may only hold plain text, numbers, lists and mappings"
        else:
            msg = f"YAML error: {exc.problem or exc}"
        return None, [Problem(filename, line, msg)]
    except yaml.YAMLError as exc:
        return None, [_syntax_problem(exc, text, filename)]
    finally:
        loader.dispose()
    problems = [Problem(filename, line, f"duplicate key {key!r}: each id may appear only once here")
                for line, key in loader.duplicates]
    return data, problems


def _syntax_problem(exc: yaml.YAMLError, text: str, filename: str) -> Problem:
    """Point at where the faulty construct starts (an unclosed quote's line, a bracket's
    opening line), not at where the parser gave up (often much later, or the end of the file)."""
    found = getattr(exc, "problem_mark", None)
    started = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if found is None:
        return Problem(filename, 0, f"YAML syntax error: {problem}")
    first = started.line if started is not None else 0
    quote = _unclosed_quote(text.splitlines(), first, found.line)
    if quote is not None and quote < found.line:
        return Problem(filename, quote + 1, "YAML syntax error: the quote opened on this line is not closed "
                                            f"(the file cannot be read from here; the reader stopped at line {found.line + 1})")
    if started is not None and started.line < found.line:
        context = (getattr(exc, "context", None) or "").removeprefix("while ")
        return Problem(filename, started.line + 1,
                       f"YAML syntax error: {context} that starts here: {problem} (line {found.line + 1})")
    return Problem(filename, found.line + 1, f"YAML syntax error: {problem}")


def _unclosed_quote(lines: list[str], first: int, last: int) -> int | None:
    """The first line (0-based) between first and last whose value leaves a quote open."""
    for number in range(first, min(last, len(lines) - 1) + 1):
        line = lines[number]
        value = line.split(": ", 1)[1] if ": " in line else line.lstrip(" -")
        value = value.strip()
        if value.startswith("#"):
            continue
        if value.startswith('"') and value.replace('\\"', "").count('"') % 2:
            return number
        if value.startswith("'") and value.replace("''", "").count("'") % 2:
            return number
    return None
