"""Reading YAML and JSON files without trusting them: the one loading path for text inputs.

Architectures, density profiles, ``--preprocess`` files, run reports, sweep points and
the JSON inside workloads all come through here, so every command gives the same
one-line error for the same damage:

* the file is missing, unreadable, larger than :data:`MAX_TEXT_BYTES`, or not UTF-8;
* a syntax error (with its line);
* YAML: nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_YAML_VALUES` values
  once aliases are expanded (an "alias bomb"), a duplicate mapping key (with its line:
  ``yaml.safe_load`` silently keeps the last one), a tag other than the standard
  ones (``!!python/...`` is refused by the safe loader), several documents;
* a number too long to convert (Python refuses integers of more than 4300 digits) or
  nesting beyond the interpreter's recursion limit (JSON).

YAML is parsed with libyaml (``yaml.CSafeLoader``) when PyYAML has it, which is several
times faster than the pure-Python loader on large files. libyaml's composer recurses
in C and crashes the interpreter on deeply nested input, so the depth and the alias
expansion are checked first on the parser's event stream, which is iterative.
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

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAG = "tag:yaml.org,2002:"
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


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

class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _STANDARD_TAG + "merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value, not a list or mapping",
                    key_node.start_mark) from None
            if first is not None:
                raise _DuplicateKey(key, first, key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first_line: int, line: int) -> None:
        super().__init__(key)
        self.key, self.first_line, self.line = key, first_line, line


def _check_events(text: str, source: str | Path | None, error: type[EiesimError]) -> None:
    """Depth, alias expansion, tags and document count, from the (iterative) event stream."""
    stack: list[list[Any]] = [[0, None]]  # [values so far, anchor] per open container; [0] = the stream
    anchors: dict[str, int] = {}
    documents = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise error(f"line {line}: a second YAML document ('---'); the file must hold one", source)
            continue
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and not tag.startswith(_STANDARD_TAG):
            raise error(f"line {line}: the tag {tag!r} is not allowed (only plain YAML values)", source)
        if isinstance(event, _STARTS):
            stack.append([1, event.anchor])
            if len(stack) - 1 > MAX_DEPTH:
                raise error(f"line {line}: nested more than {MAX_DEPTH} levels deep", source)
        elif isinstance(event, _ENDS):
            size, anchor = stack.pop()
            if anchor is not None:
                anchors[anchor] = size
            stack[-1][0] += size
        elif isinstance(event, yaml.ScalarEvent):
            stack[-1][0] += 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            stack[-1][0] += anchors.get(event.anchor, 1)
        else:
            continue
        if stack[-1][0] > MAX_YAML_VALUES:
            raise error(f"line {line}: more than {MAX_YAML_VALUES:,} values once aliases are expanded "
                        "(an alias bomb?)", source)


def parse_yaml(text: str, source: str | Path | None = None, error: type[EiesimError] = EiesimError) -> Any:
    """Parse one YAML document safely (see the module docstring); ``error(message, source)`` on any problem."""
    try:
        _check_events(text, source, error)
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except EiesimError:
        raise
    except _DuplicateKey as dup:
        raise error(f"line {dup.line}: duplicate key {dup.key!r} (first given at line {dup.first_line}); "
                    "each key may appear once", source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML{where}: {problem}", source) from None
    except ValueError as exc:  # int() of a huge number: "Exceeds the limit (4300 digits) ..."
        raise error(f"holds a value that cannot be converted ({_short(exc)})", source) from None
    except RecursionError:
        raise error("nested too deeply", source) from None


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
