"""Reading YAML and JSON files without trusting them: the one loading path for text inputs.

Architectures, density profiles, ``--preprocess`` files, run reports, sweep points and
the JSON inside workloads all come through here, so every command gives the same
one-line error for the same damage:

* the file is missing, unreadable, larger than :data:`MAX_TEXT_BYTES`, or not UTF-8;
* a syntax error (with its line);
* YAML: nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_YAML_VALUES` values
  once aliases are expanded (an "alias bomb"), a duplicate mapping key (with its line:
  ``yaml.safe_load`` silently keeps the last one), a tag other than the standard ones
  (``!!python/...`` included), several documents;
* a number too long to convert (Python refuses integers of more than 4300 digits) or
  nesting beyond the interpreter's recursion limit (JSON).

YAML values are built straight from the parser's event stream (libyaml's parser,
``yaml.CSafeLoader``, when PyYAML has it), with PyYAML's own resolver and safe
constructors for the scalars, so the values are those ``yaml.safe_load`` gives. Skipping
the node graph makes large files about twice as fast and several times leaner than the
C loader (and three or more times faster than ``yaml.safe_load``), needs no recursion,
and lets every check above name its line. (libyaml's composer recurses in C and crashes
the interpreter on deeply nested input; it is not used.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from eiesim.errors import EiesimError

#: Largest YAML/JSON text file read (bytes). Architectures and profiles are a few KB;
#: the run report of a 10,000-layer workload is about 30 MB.
MAX_TEXT_BYTES = 256 * 1024**2
#: Deepest nesting of YAML mappings/sequences accepted (real files use 2 or 3 levels).
MAX_DEPTH = 100
#: Most values (scalars and containers, aliases expanded) one YAML document may hold.
MAX_YAML_VALUES = 10_000_000

#: The parser: libyaml's when PyYAML was built with it (the events are the same either way).
_ParserLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAG = "tag:yaml.org,2002:"


def read_text(path: str | Path, error: type[EiesimError] = EiesimError, what: str = "file",
              max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path``; ``error(message, path)`` if missing, unreadable, too large or not UTF-8."""
    path = Path(path)
    try:
        if not path.exists():
            raise error(f"no such {what}", path)
        if path.is_dir():
            raise error(f"is a directory, not a {what}", path)
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what} is {size:,} bytes, larger than the {max_bytes:,} bytes accepted", path)
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror or exc.__class__.__name__})", path) from None
    if len(data) > max_bytes:  # grew since stat (or a special file)
        raise error(f"{what} is larger than the {max_bytes:,} bytes accepted", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"not a UTF-8 text {what} (byte {exc.start}, line {line}, is not valid UTF-8)", path) from None


# -- YAML ------------------------------------------------------------------------------

class _Refused(Exception):
    """A problem found while building the document (turned into ``error(...)`` by parse_yaml)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


_NO_KEY = object()


class _Builder:
    """Builds Python values straight from the parser's events (no node graph, no recursion).

    Scalars are resolved and constructed exactly as ``yaml.safe_load`` does (PyYAML's
    resolver and SafeConstructor); mappings refuse duplicate keys; merge keys (``<<``)
    follow PyYAML's rules (explicit keys win, earlier merged mappings win over later ones).
    """

    def __init__(self) -> None:
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.stack: list[list[Any]] = []  # per open container: [value, pending key, keys seen, merges, size, anchor]
        self.anchors: dict[str, tuple[Any, int] | None] = {}  # None while the anchored container is open
        self.root: Any = None
        self.total = 0

    def _add(self, value: Any, size: int, line: int) -> None:
        self.total += size
        if self.total > MAX_YAML_VALUES:
            raise _Refused(line, f"more than {MAX_YAML_VALUES:,} values once aliases are expanded (an alias bomb?)")
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame[4] += size
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
            return
        key = frame[1]
        if key is _NO_KEY:
            if isinstance(value, dict | list):
                raise _Refused(line, "a mapping key must be a plain value, not a list or mapping")
            frame[1] = (value, line)
            return
        frame[1] = _NO_KEY
        key, key_line = key
        if key is _MERGE:  # a list may still be filling: its items are merged when the mapping ends
            frame[3].append((value, key_line))
            return
        first = frame[2].get(key)
        if first is not None:
            raise _Refused(key_line, f"duplicate key {_shown(key)} (first given at line {first}); "
                                     "each key may appear once")
        frame[2][key] = key_line
        container[key] = value

    def scalar(self, event: yaml.ScalarEvent) -> None:
        line = event.start_mark.line + 1
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STANDARD_TAG + "str":
            value: Any = event.value
        elif tag == _STANDARD_TAG + "merge":
            value = _MERGE
        else:
            build = self.constructor.yaml_constructors.get(tag)
            if build is None or not tag.startswith(_STANDARD_TAG):
                raise _Refused(line, f"the tag {tag!r} is not allowed (only plain YAML values)")
            try:
                value = build(self.constructor, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                                                event.style))
            except ValueError as exc:  # e.g. int() of more than 4300 digits, an impossible date
                raise _Refused(line, f"the value {event.value[:24]!r}{'...' if len(event.value) > 24 else ''} "
                                     f"cannot be converted ({_short(exc)})") from None
        self._add(value, 1, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)

    def start(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        line = event.start_mark.line + 1
        mapping = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _STANDARD_TAG + ("map" if mapping else "seq")):
            raise _Refused(line, f"the tag {event.tag!r} is not allowed (only plain YAML values)")
        if len(self.stack) >= MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        value: Any = {} if mapping else []
        self._add(value, 1, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append([value, _NO_KEY, {}, [], 1, event.anchor])

    def end(self, event: yaml.MappingEndEvent | yaml.SequenceEndEvent) -> None:
        value, _, explicit, merges, size, anchor = self.stack.pop()
        if merges:
            sources = []
            for merge, line in merges:
                items = merge if isinstance(merge, list) else [merge]
                if not items or not all(isinstance(m, dict) for m in items):
                    raise _Refused(line, "a merge key '<<' needs a mapping or a list of mappings")
                sources.extend(items)
            merged: dict[Any, Any] = {}
            for source in reversed(sources):  # earlier mappings take precedence
                merged.update(source)
            for key, item in merged.items():
                if key not in explicit:
                    value[key] = item
        if self.stack:
            self.stack[-1][4] += size - 1  # the container itself was counted when it opened
        if anchor is not None:
            self.anchors[anchor] = (value, size)

    def alias(self, event: yaml.AliasEvent) -> None:
        line = event.start_mark.line + 1
        if event.anchor not in self.anchors:
            raise _Refused(line, f"the alias *{event.anchor} has no anchor &{event.anchor} before it")
        target = self.anchors[event.anchor]
        if target is None:
            raise _Refused(line, f"the alias *{event.anchor} refers to the mapping or list that contains it")
        self._add(target[0], target[1], line)


_MERGE = object()


def _shown(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_yaml(text: str, source: str | Path | None = None, error: type[EiesimError] = EiesimError) -> Any:
    """Parse one YAML document safely (see the module docstring); ``error(message, source)`` on any problem."""
    builder = _Builder()
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_ParserLoader):
            kind = type(event)
            if kind is yaml.ScalarEvent:
                builder.scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                builder.start(event)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                builder.end(event)
            elif kind is yaml.AliasEvent:
                builder.alias(event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Refused(event.start_mark.line + 1, "a second YAML document ('---'); the file must hold one")
    except _Refused as exc:
        raise error(f"line {exc.line}: {exc.message}", source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML{where}: {problem}", source) from None
    except RecursionError:
        raise error("nested too deeply", source) from None
    return builder.root


def load_yaml(path: str | Path, error: type[EiesimError] = EiesimError, what: str = "YAML file") -> Any:
    """Read and parse a YAML (or JSON: JSON is YAML) file; errors name the file."""
    return parse_yaml(read_text(path, error, what), path, error)


# -- JSON ------------------------------------------------------------------------------

def parse_json(text: str, source: str | Path | None = None, error: type[EiesimError] = EiesimError,
               what: str = "", **kwargs: Any) -> Any:
    """``json.loads`` with every failure as ``error(message, source)``; ``what`` prefixes the message."""
    prefix = f"{what}: " if what else ""
    try:
        return json.loads(text, **kwargs)
    except json.JSONDecodeError as exc:
        raise error(f"{prefix}not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source) from None
    except RecursionError:
        raise error(f"{prefix}JSON nested too deeply", source) from None
    except ValueError as exc:  # a number of more than 4300 digits
        raise error(f"{prefix}JSON holds a value that cannot be converted ({_short(exc)})", source) from None


def load_json(path: str | Path, error: type[EiesimError] = EiesimError, what: str = "JSON file",
              **kwargs: Any) -> Any:
    """Read and parse a JSON file; errors name the file."""
    return parse_json(read_text(path, error, what), path, error, **kwargs)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text.split(";")[0][:160]


__all__ = ["MAX_DEPTH", "MAX_TEXT_BYTES", "MAX_YAML_VALUES", "load_json", "load_yaml", "parse_json", "parse_yaml",
           "read_text"]
