"""YAML files people give us (column mappings, approvals, report parameters), read safely.

:func:`load_yaml` is ``yaml.safe_load`` (plain data only: no Python objects, no code) with
limits checked before the data are built, so a small hostile file cannot fill the memory:

* the file's size (1 MB: these files are a page or two);
* how deeply collections nest (50 levels), checked on the parser's events, before anything
  recursive runs;
* aliases (``*name``, referring to an ``&name`` anchor): at most 100, and the document they
  expand to at most 100,000 values. A "billion laughs" file of a few hundred bytes defines
  ten lists of ten aliases to the list before, nine levels deep: 10^9 values once expanded,
  which anything walking it (printing, validating, copying) would try to build. It is
  refused by its expanded size; a recursive alias (a list that contains itself) is refused
  too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "YAMLFileError", "load_yaml",
           "parse_yaml"]

MAX_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_VALUES = 100_000


class YAMLFileError(ValueError):
    """A YAML file that cannot be read, or is past a limit (one line naming the file)."""


def load_yaml(path: str | Path, *, what: str = "file") -> Any:
    """Read a YAML file's one document as plain data (``None`` for an empty file).

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages ("not a readable YAML mapping").

    Raises
    ------
    YAMLFileError
        No such file, not UTF-8, not YAML, more than one document, or past a limit (size,
        nesting, aliases); the message names the file.
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise YAMLFileError(f"{name}: file not found") from None
    except OSError as exc:
        raise YAMLFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise YAMLFileError(f"{name}: larger than {MAX_BYTES:,} bytes; not read (a YAML "
                            f"file of settings is a page or two)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YAMLFileError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                            f"{line}, at position {exc.start})") from None
    return parse_yaml(text, name, what=what)


def parse_yaml(text: str, name: str = "<yaml>", *, what: str = "file") -> Any:
    """:func:`load_yaml` for text already read (``name`` is used in messages)."""
    if len(text) > MAX_BYTES:
        raise YAMLFileError(f"{name}: larger than {MAX_BYTES:,} characters; not read")
    try:
        _check_events(text, name)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node, name)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise YAMLFileError(f"{name}: not a readable YAML {what}{where} ({first})") from None
    except RecursionError:
        raise YAMLFileError(f"{name}: nested too deeply to read") from None


def _check_events(text: str, name: str) -> None:
    """Nesting depth and alias count, from the parser's flat stream of events."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YAMLFileError(f"{name}: collections nested more than {MAX_DEPTH} deep "
                                    f"(line {event.start_mark.line + 1}); not read")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YAMLFileError(f"{name}: more than {MAX_ALIASES} aliases (*name); not "
                                    f"read")


def _check_expansion(root: yaml.Node, name: str) -> None:
    """The number of values the document expands to, each alias counted in full."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLFileError(f"{name}: an alias refers to a collection that contains it "
                                f"(line {node.start_mark.line + 1}); not read")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        if total > MAX_VALUES:
            raise YAMLFileError(f"{name}: its aliases expand to more than {MAX_VALUES:,} "
                                f"values (a 'billion laughs' file?); not read")
        return total

    size(root)
