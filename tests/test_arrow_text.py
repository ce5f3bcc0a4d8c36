"""sjrlib.arrow_text.holds_any: a byte search over Arrow string values, checked against the
values themselves on arrays written here (slices, chunks, both offset widths, non-ASCII text)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sjrlib.arrow_text import holds_any, may_need_trim, starts_with

VALUES = ["Seen by the registrar.", None, "", "Café, naïve – “quoted”", "two\r\nlines",
          "tab\there", "back\\slash", "plain"]


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("start", range(len(VALUES)))
@pytest.mark.parametrize("length", [0, 1, 2, 3, len(VALUES)])
@pytest.mark.parametrize("characters", ["\r", "\t", "\\", "\n", "'", "\r\t"])
def test_holds_any_answers_as_the_values_of_the_slice_do(type_, start, length, characters):
    array = pa.array(VALUES, type=type_).slice(start, length)
    expected = any(v is not None and any(c in v for c in characters)
                   for v in VALUES[start:start + length])
    assert holds_any(array, characters) is expected


def test_holds_any_reads_every_chunk_of_a_chunked_array():
    chunked = pa.chunked_array([pa.array(["a", "b"], pa.large_string()),
                                pa.array([], pa.large_string()),
                                pa.array([None, "c\rd"], pa.large_string())])
    assert holds_any(chunked, "\r")
    assert not holds_any(chunked, "\t")
    assert not holds_any(pa.chunked_array([], pa.string()), "\r")


def test_a_multibyte_character_never_matches_an_ascii_one():
    # Every byte of a multi-byte UTF-8 character is 0x80 or more: no ASCII character hides in
    # one (here characters whose code points end in 0x0d, 0x09 and 0x5c).
    text = pa.array(["\u010d\u0109\u015c\u2009\u0d0d"])
    assert not holds_any(text, "\r\t\\")


def test_holds_any_refuses_what_it_cannot_answer():
    with pytest.raises(ValueError):
        holds_any(pa.array(["x"]), ["ab"])
    with pytest.raises(ValueError):
        holds_any(pa.array(["x"]), "é")
    with pytest.raises(TypeError):
        holds_any(pa.array([1, 2]), "\r")


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("start", [0, 1, 3])
def test_starts_with_answers_as_the_values_do(type_, start):
    values = ["'=SUM(A1)", None, "", "it's", "'", "''+1", "é'", "plain"]
    array = pa.array(values, type=type_).slice(start)
    expected = [v is not None and v.startswith("'") for v in values[start:]]
    assert starts_with(array, "'").tolist() == expected
    chunked = pa.chunked_array([array.slice(0, 2), array.slice(2)])
    assert starts_with(chunked, "'").tolist() == expected


def test_a_null_is_never_a_hit_even_over_bytes():
    # A null's slot may span bytes (Arrow does not forbid it): built here by hand, "'x" marked
    # missing.
    data = pa.py_buffer(b"'x'y")
    offsets = pa.py_buffer(np.array([0, 2, 4], dtype=np.int32).tobytes())
    validity = pa.py_buffer(bytes([0b10]))  # value 0 missing, value 1 present
    array = pa.StringArray.from_buffers(2, offsets, data, validity, null_count=1)
    assert array.to_pylist() == [None, "'y"]
    assert starts_with(array, "'").tolist() == [False, True]


WHITESPACE = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680",
              "\u2000", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]


@pytest.mark.parametrize("space", WHITESPACE)
@pytest.mark.parametrize("where", ["start", "end"])
def test_may_need_trim_sees_every_kind_of_whitespace_at_either_end(space, where):
    value = space + "LS1" if where == "start" else "LS1" + space
    for type_ in (pa.string(), pa.large_string()):
        array = pa.array(["RXX", None, "", value, "S08000015"], type=type_)
        assert may_need_trim(array)
        assert not may_need_trim(array.slice(0, 3))  # the padded value lies outside the slice
        assert may_need_trim(pa.chunked_array([array.slice(0, 3), array.slice(3)]))


def test_may_need_trim_false_only_when_trimming_changes_nothing():
    import pyarrow.compute as pc

    clean = pa.array(["RXX", None, "", "Seen by the registrar.", "x y", "a\u00a0b"])
    assert not may_need_trim(clean)
    assert pc.utf8_trim_whitespace(clean).equals(clean)
    # A value ending in a non-ASCII letter may need it as far as bytes can tell: True is safe.
    assert may_need_trim(pa.array(["Café"]))
