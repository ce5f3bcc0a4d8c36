"""Byte searches over the values of Arrow string arrays.

Whether a column holds a character at all (a carriage return in free text, a tab or backslash
COPY must escape) is one ``bytes.find`` (memchr speed) over the values' buffer, where a
``pyarrow.compute`` string kernel visits every value and a Python ``in`` over a memoryview
compares byte by byte. Only ASCII characters are searched for: in UTF-8 their byte never occurs
inside another character, so a hit in the buffer is a hit in a value.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa


def _offsets(array: pa.Array) -> np.ndarray:
    """Where each value of a string or large_string array starts, and the last one ends."""
    width = 8 if pa.types.is_large_string(array.type) else 4
    return np.frombuffer(array.buffers()[1], dtype=np.int64 if width == 8 else np.int32,
                         count=len(array) + 1, offset=array.offset * width)


def _checked(text: pa.Array | pa.ChunkedArray, characters: Iterable[str]
             ) -> tuple[list[pa.Array], list[bytes]]:
    needles = [c.encode("ascii") for c in characters]
    if any(len(n) != 1 for n in needles):
        raise ValueError("only single ASCII characters are searched for")
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            raise TypeError(f"Arrow strings are searched, not {chunk.type}")
    return chunks, needles


def value_bytes(array: pa.Array) -> memoryview:
    """The bytes of ``array``'s values, one after another (a string or large_string array,
    slices included), without a copy."""
    if not len(array) or array.buffers()[2] is None:
        return memoryview(b"")
    offsets = _offsets(array)
    return memoryview(array.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def holds_any(text: pa.Array | pa.ChunkedArray, characters: Iterable[str]) -> bool:
    """Whether any value of ``text`` (Arrow ``string`` or ``large_string``) contains one of
    ``characters`` (each a single ASCII character)."""
    chunks, needles = _checked(text, characters)
    for chunk in chunks:
        values = value_bytes(chunk).tobytes()  # bytes.find: a memoryview compares byte by byte
        if values and any(n in values for n in needles):
            return True
    return False


def _edges(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For one string array: which values hold at least one byte (present and not empty), and
    the first and the last byte of each of those; None when none does."""
    data = chunk.buffers()[2] if len(chunk) else None
    if data is None:
        return None
    offsets = _offsets(chunk)
    nonempty = offsets[1:] > offsets[:-1]
    if chunk.null_count:  # a null's slot may span bytes: they are not a value
        nonempty &= np.asarray(chunk.is_valid(), dtype=bool)
    if not nonempty.any():
        return None
    data = np.frombuffer(data, dtype=np.uint8)
    return nonempty, data[offsets[:-1][nonempty]], data[offsets[1:][nonempty] - 1]


def starts_with(text: pa.Array | pa.ChunkedArray, character: str) -> np.ndarray:
    """Per value of ``text``, whether it begins with ``character`` (one ASCII character;
    a missing or empty value does not): one look at each value's first byte."""
    chunks, [needle] = _checked(text, [character])
    out = [np.zeros(0, dtype=bool)]
    for chunk in chunks:
        hit = np.zeros(len(chunk), dtype=bool)
        edges = _edges(chunk)
        if edges is not None:
            nonempty, first, _last = edges
            hit[nonempty] = first == needle[0]
        out.append(hit)
    return np.concatenate(out)


def may_need_trim(text: pa.Array | pa.ChunkedArray) -> bool:
    """Whether some value of ``text`` begins or ends with a byte that could be part of
    whitespace: an ASCII space or control character (0x20 or below) or any byte of a
    non-ASCII character (0x80 or above). ``False`` proves that trimming whitespace, by any
    definition of it, changes no value; ``True`` only that it might."""
    chunks, _ = _checked(text, [])
    for chunk in chunks:
        edges = _edges(chunk)
        if edges is not None and any(((edge <= 0x20) | (edge >= 0x80)).any()
                                     for edge in edges[1:]):
            return True
    return False
