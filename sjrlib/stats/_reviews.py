"""Shared machinery of the statistics: which reviews count, one row per case, fast group codes.

Everything here works on integer codes and numpy index arrays over the *original* review frame,
so a 1M-row frame is never copied: columns are encoded once (through pyarrow) and cached, and
each table is a handful of ``np.bincount`` calls. The public statistics modules build one
:class:`ReviewIndex` per call; :func:`sjrlib.stats.national.national_statistics` builds one and
reuses it for every table.

Selection rules (documented in the public functions that rely on them):

* drafts are excluded unless ``include_drafts=True``;
* a *case* is ``(organisation_code, case_id)``: case references are local to an organisation;
* the *primary first-stage review* of a case is its earliest first-stage review (``review_date``,
  then ``review_id``); extra first-stage reviews exist for inter-rater reliability and must not
  count twice;
* the *final second-stage review* of a case is its latest second-stage review.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib import domain
from sjrlib.form.registry import registry

if TYPE_CHECKING:
    from scipy import sparse

PERIODS: tuple[str, ...] = ("month", "quarter", "financial_year", "calendar_year")
"""Derived grouping names computed from ``death_month`` (periods are by month of death)."""

REVIEW_REASON = "review_reason"
"""Derived grouping name: one group per review reason; a review with several reasons counts in
each of them (so these groups may sum to more than the total)."""

def _vocabulary_order() -> dict[str, tuple[str, ...]]:
    """The coded columns statistics may group by (those the field registry marks
    ``group_by``), each with its answers in form order; review reasons under
    :data:`REVIEW_REASON`; the organisation's nation."""
    order: dict[str, tuple[str, ...]] = {}
    for column, answers in registry().group_by_columns().items():
        if all(isinstance(a, str) for a in answers):
            order[REVIEW_REASON if column == "review_reasons" else column] = answers
    order["nation"] = domain.NATIONS
    return order


_VOCABULARY_ORDER: dict[str, tuple[str, ...]] = _vocabulary_order()

_MAX_DENSE_GROUPS = 1 << 24


def financial_year(month: str) -> str:
    """The UK financial year (April to March) of a ``"YYYY-MM"`` month, e.g. ``"2023/24"``."""
    year, mon = int(month[:4]), int(month[5:7])
    start = year if mon >= 4 else year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def financial_quarter(month: str) -> str:
    """The financial quarter of a month, e.g. ``"2023/24 Q1"`` (Q1 = April to June)."""
    mon = int(month[5:7])
    return f"{financial_year(month)} Q{(mon - 4) % 12 // 3 + 1}"


def quarter_first_month(label: str) -> str | None:
    """The first month of a period label: ``YYYY-MM`` itself, a financial quarter
    ``"2023/24 Q4"`` its first month (``"2024-01"``); None for anything else."""
    label = label.strip()
    if re.fullmatch(r"\d{4}-\d{2}", label):
        return label
    m = re.fullmatch(r"(\d{4})/\d{2} Q([1-4])", label)
    if m is None:
        return None
    month = 4 + 3 * (int(m.group(2)) - 1)
    return f"{int(m.group(1)) + (month > 12)}-{(month - 1) % 12 + 1:02d}"


def period_label(month: str | None, period: str) -> str | None:
    if month is None:
        return None
    if period == "month":
        return month
    if period == "quarter":
        return financial_quarter(month)
    if period == "financial_year":
        return financial_year(month)
    if period == "calendar_year":
        return month[:4]
    raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")


def _arrow(series: pd.Series) -> pa.Array:
    """The column as one pyarrow array (zero-copy for pyarrow-backed strings)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("string")
    try:
        arr = pa.array(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(series.astype("string"))
    return arr


def _flat(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free pyarrow (chunked) array of numbers or booleans as one numpy array."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 0:
            return np.zeros(0, dtype=arr.type.to_pandas_dtype())
        return np.concatenate([c.to_numpy(zero_copy_only=False) for c in arr.chunks])
    return arr.to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class Encoded:
    """A column as integer codes: ``codes[i]`` indexes ``labels``; missing values get the last
    code, whose label is ``None``, when there are any."""

    codes: np.ndarray
    labels: list

    @property
    def size(self) -> int:
        return len(self.labels)


def _encode_strings(arr: pa.Array, order: Sequence[str] | None = None) -> Encoded:
    enc = pc.dictionary_encode(_flat(arr))
    dictionary = enc.dictionary.to_pylist()
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if order is not None:
        rank = {v: i for i, v in enumerate(order)}
        sorted_labels = sorted(dictionary, key=lambda v: (rank.get(v, len(rank)), v))
    else:
        sorted_labels = sorted(dictionary)
    position = {v: i for i, v in enumerate(sorted_labels)}
    remap = np.array([position[v] for v in dictionary] + [len(sorted_labels)], dtype=np.int64)
    labels: list = list(sorted_labels)
    if (codes < 0).any():
        labels.append(None)
    return Encoded(remap[codes], labels)


def _vocab_index(arr: pa.Array, vocabulary: Sequence[str]) -> np.ndarray | None:
    """``0`` = missing, ``i + 1`` = ``vocabulary[i]``; None if some value is not in it."""
    found = pc.index_in(arr, value_set=pa.array(list(vocabulary), type=arr.type))
    if found.null_count != arr.null_count:
        return None
    codes = _numpy(pc.fill_null(found, -1)).astype(_small_int(len(vocabulary) + 1))
    codes += 1
    return codes


def _small_int(high: int) -> type:
    """The narrowest of int8/int16/int64 holding ``-1..high``: per-row codes of short
    vocabularies and scores are kept as int8 (1 MB per million rows instead of 8 MB)."""
    if high <= np.iinfo(np.int8).max:
        return np.int8
    if high <= np.iinfo(np.int16).max:
        return np.int16
    return np.int64


class ReviewIndex:
    """Codes and row selections over one review frame, computed lazily and cached.

    Parameters
    ----------
    reviews : pandas.DataFrame
        A validated review frame (``sjrlib.domain.REVIEW_COLUMNS``; extra columns ignored).
    include_drafts : bool
        Count draft reviews too (default ``False``: drafts are work in progress).
    """

    COLUMNS: tuple[str, ...] = ("review_id", "case_id", "organisation_code", "review_stage",
                                "status", "review_date")
    """The columns every selection reads (which review of a case is primary, and so on)."""

    def __init__(self, reviews: pd.DataFrame, *, include_drafts: bool = False) -> None:
        missing = [c for c in self.COLUMNS if c not in reviews.columns]
        if missing:
            raise ValueError(
                f"the review frame lacks column(s) {missing}; statistics take a validated review "
                "frame (sjrlib.domain.REVIEW_COLUMNS)"
            )
        self.frame = reviews
        self.n_rows = len(reviews)
        self.include_drafts = include_drafts
        self._cache: dict = {}

    # ------------------------------------------------------------------ columns
    def strings(self, column: str) -> Encoded:
        key = ("s", column)
        if key not in self._cache:
            vocabulary = _VOCABULARY_ORDER.get(column)
            codes = None
            if vocabulary is not None and column != REVIEW_REASON:
                codes = _vocab_index(self.arrow(column), vocabulary)
            if codes is not None:
                # Vocabulary columns: code i+1 = vocabulary[i], 0 = missing -> missing last.
                labels: list = [*vocabulary, None]
                self._cache[key] = Encoded(np.where(codes == 0, len(vocabulary), codes - 1),
                                           labels)
            else:
                self._cache[key] = _encode_strings(self.arrow(column), vocabulary)
        return self._cache[key]

    def ints(self, column: str, *, low: int, high: int) -> np.ndarray:
        """Integer values with missing as 0, checked to lie in ``low..high`` (a narrow integer
        dtype when they fit, see :func:`_small_int`)."""
        key = ("i", column)
        if key not in self._cache:
            self._require(column)
            series = self.frame[column]
            if pd.api.types.is_integer_dtype(series.dtype):
                # Nullable or plain integers: no float round trip (a 1M column in ~ms).
                values = series.to_numpy(dtype=np.int64, na_value=0)
                missing = series.isna().to_numpy()
                wrong = ((values < low) | (values > high)) & ~missing
            else:
                floats = series.to_numpy(dtype="float64", na_value=np.nan)
                missing = np.isnan(floats)
                wrong = ~missing & ((floats < low) | (floats > high)
                                    | (floats != np.round(floats)))
                values = np.where(missing | wrong, 0, floats).astype(np.int64)
            if wrong.any():
                bad = series.iloc[int(np.flatnonzero(wrong)[0])]
                raise ValueError(
                    f"column {column!r} holds {bad!r}; expected whole numbers {low}-{high} or "
                    "blank (is this a validated review frame?)"
                )
            # values are 0 where missing already (na_value=0, or the np.where above).
            dtype = _small_int(high) if low >= 0 else np.int64
            self._cache[key] = values.astype(dtype)
        return self._cache[key]

    def equals(self, column: str, value: str) -> np.ndarray:
        """Boolean mask ``column == value`` (missing is False)."""
        key = ("eq", column, value)
        if key not in self._cache:
            self._require(column)
            if ("s", column) in self._cache:
                enc = self._cache[("s", column)]
                target = enc.labels.index(value) if value in enc.labels else -2
                self._cache[key] = enc.codes == target
            else:
                hit = pc.fill_null(pc.equal(self.arrow(column), value), False)
                self._cache[key] = _numpy(hit).astype(bool)
        return self._cache[key]

    def arrow(self, column: str) -> pa.Array:
        key = ("a", column)
        if key not in self._cache:
            self._require(column)
            self._cache[key] = _arrow(self.frame[column])
        return self._cache[key]

    def vocab_codes(self, column: str, vocabulary: Sequence[str]) -> np.ndarray:
        """Codes ``0`` = missing, ``i + 1`` = ``vocabulary[i]``; any other value is an error."""
        key = ("v", column, tuple(vocabulary))
        if key not in self._cache:
            codes = _vocab_index(self.arrow(column), vocabulary)
            if codes is None:
                enc = _encode_strings(self.arrow(column))
                bad = [v for v in enc.labels if v is not None and v not in vocabulary]
                raise ValueError(f"column {column!r} holds {bad[0]!r}; expected one of "
                                 f"{tuple(vocabulary)} or blank")
            self._cache[key] = codes
        return self._cache[key]

    def profile(self, name: str, columns: Sequence[np.ndarray], base: int) -> Profile:
        """Pack several small-valued code columns (each ``0..base-1``) into one code per row
        over the combinations that occur, so one ``bincount`` counts them all."""
        key = ("profile", name)
        if key not in self._cache:
            packed = np.zeros(self.n_rows, dtype=np.int64)
            for col in columns:
                packed = packed * base + col
            space = base ** len(columns)
            if space <= _MAX_DENSE_GROUPS:
                present = np.flatnonzero(np.bincount(packed, minlength=space))
                remap = np.zeros(space, dtype=np.int64)
                remap[present] = np.arange(present.size)
                codes = remap[packed]
            else:
                present, codes = np.unique(packed, return_inverse=True)
            values = np.zeros((present.size, len(columns)), dtype=np.int64)
            rest = present.copy()
            for j in range(len(columns) - 1, -1, -1):
                values[:, j] = rest % base
                rest //= base
            self._cache[key] = Profile(codes.ravel(), values)
        return self._cache[key]

    def _require(self, column: str) -> None:
        if column not in self.frame.columns:
            raise ValueError(f"the review frame has no column {column!r}")

    # ------------------------------------------------------------------ selections
    @property
    def counted(self) -> np.ndarray:
        """Boolean mask of the reviews that count (drafts excluded unless asked)."""
        if "counted" not in self._cache:
            if self.include_drafts:
                mask = np.ones(self.n_rows, dtype=bool)
            else:
                mask = ~self.equals("status", "draft")
            self._cache["counted"] = mask
        return self._cache["counted"]

    def stage_mask(self, stage: str) -> np.ndarray:
        if stage not in domain.REVIEW_STAGES:
            raise ValueError(f"unknown review stage {stage!r}; expected one of "
                             f"{domain.REVIEW_STAGES}")
        return self.counted & self.equals("review_stage", stage)

    @property
    def case_code(self) -> np.ndarray:
        """Codes of ``case_id`` alone; equal codes in different organisations are different
        cases, which :meth:`_shared_case` resolves."""
        if "case_code" not in self._cache:
            self._require("case_id")
            enc = pc.dictionary_encode(_flat(self.arrow("case_id")))
            self._cache["case_code"] = (
                pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            )
        return self._cache["case_code"]

    def _shared_case(self, mask: np.ndarray) -> np.ndarray:
        """Positions among ``mask`` rows whose case_id occurs more than once among them.

        ``mask`` selects counted rows only (:attr:`counted` or a :meth:`stage_mask`): a case_id
        repeated among them is repeated among the counted rows, so only the counted rows'
        repeats (found once, cached) are looked at again."""
        if "shared_counted" not in self._cache:
            self._cache["shared_counted"] = self._repeated(np.flatnonzero(self.counted))
        base = self._cache["shared_counted"]
        if mask is self.counted:
            return base
        return self._repeated(base[mask[base]])

    def _repeated(self, rows: np.ndarray) -> np.ndarray:
        """The ``rows`` whose case_id occurs more than once among ``rows``."""
        if rows.size == 0:
            return rows
        codes = self.case_code[rows]
        low = codes.min()
        counts = np.bincount(codes - low)
        return rows[counts[codes - low] > 1]

    def order_keys(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(case_key, date, rank)`` of some of the rows :meth:`_shared_case` returns: the case,
        ``review_date`` as int64 (missing last) and a rank of ``review_id`` (equal ids equal
        ranks), for sorting the reviews of a case. Worked out once for all the counted rows
        with a repeated case id; ranks of a subset keep their order, which is all a sort
        needs."""
        if "order_keys" not in self._cache:
            base = self._shared_case(self.counted)
            date = self.frame["review_date"].to_numpy("datetime64[ns]")[base].view(np.int64)
            date = np.where(date == np.iinfo(np.int64).min, np.iinfo(np.int64).max, date)
            rank = pc.rank(_flat(self.arrow("review_id").take(pa.array(base))),
                           sort_keys="ascending", tiebreaker="dense")
            rank = rank.to_numpy(zero_copy_only=False).astype(np.int64)
            self._cache["order_keys"] = (base, self.case_key_at(base), date, rank)
        base, key, date, rank = self._cache["order_keys"]
        at = np.searchsorted(base, rows)
        if not np.array_equal(base[np.minimum(at, base.size - 1)], rows):
            raise ValueError("order_keys takes rows with a repeated case id among counted rows")
        return key[at], date[at], rank[at]

    def case_key_at(self, rows: np.ndarray) -> np.ndarray:
        """:attr:`case_key` of the given rows only."""
        org = self.strings("organisation_code")
        return self.case_code[rows] * (org.size + 1) + org.codes[rows]

    def one_per_case(self, mask: np.ndarray, *, latest: bool = False) -> np.ndarray:
        """Row positions of one review per case among ``mask`` rows: the earliest (``latest=False``)
        or latest by ``review_date`` then ``review_id``. Sorted ascending."""
        shared = self._shared_case(mask)
        keep = mask.copy()
        if shared.size:
            key, date, rank = self.order_keys(shared)
            if latest:
                order = np.lexsort((-rank, -date, key))
            else:
                order = np.lexsort((rank, date, key))
            sorted_key = key[order]
            first = np.ones(order.size, dtype=bool)
            first[1:] = sorted_key[1:] != sorted_key[:-1]
            keep[shared] = False
            keep[shared[order[first]]] = True
        return np.flatnonzero(keep)

    def primary_first(self) -> np.ndarray:
        """Rows of the primary (earliest) counted first-stage review of each case."""
        if "primary_first" not in self._cache:
            self._cache["primary_first"] = self.one_per_case(self.stage_mask("first"))
        return self._cache["primary_first"]

    def final_second(self) -> np.ndarray:
        """Rows of the final (latest) counted second-stage review of each case."""
        if "final_second" not in self._cache:
            self._cache["final_second"] = self.one_per_case(self.stage_mask("second"),
                                                            latest=True)
        return self._cache["final_second"]

    def stage_rows(self, stage: str) -> np.ndarray:
        return self.primary_first() if stage == "first" else self.final_second()

    # ------------------------------------------------------------------ cases
    def cases(self) -> Cases:
        """One row per reviewed case (any counted review, either stage)."""
        if "cases" not in self._cache:
            self._cache["cases"] = self._build_cases()
        return self._cache["cases"]

    @property
    def case_key(self) -> np.ndarray:
        """An int64 per row identifying its case ``(organisation_code, case_id)``."""
        if "case_key" not in self._cache:
            org = self.strings("organisation_code")
            self._cache["case_key"] = self.case_code * (org.size + 1) + org.codes
        return self._cache["case_key"]

    def case_position(self) -> np.ndarray:
        """For each review-frame row, the position of its case in :meth:`cases` (-1 for rows
        that do not count, e.g. drafts)."""
        self.cases()
        return self._cache["case_position"]

    def _build_cases(self) -> Cases:
        counted = self.counted
        avoid = self.ints("avoidability_score", low=1, high=6)
        ld = self.equals("learning_disability", "yes")
        # Most cases have one counted review: that review *is* the case. Only cases whose
        # case_id occurs more than once need sorting out (few rows).
        shared = self._shared_case(counted)
        alone = counted.copy()
        alone[shared] = False
        case_row_of = np.full(self.n_rows, -1, dtype=np.int64)   # row -> row describing its case
        case_avoid = np.where(alone, avoid, 0)
        case_ld = alone & ld
        lone_rows = np.flatnonzero(alone)
        case_row_of[lone_rows] = lone_rows
        if shared.size:
            key, date, rank = self.order_keys(shared)
            _, inv = np.unique(key, return_inverse=True)
            inv = inv.ravel()
            n_cases = int(inv.max()) + 1
            first = self.equals("review_stage", "first")[shared]
            a = avoid[shared]

            def first_of_each(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                groups = inv[order]
                head = np.ones(order.size, dtype=bool)
                head[1:] = groups[1:] != groups[:-1]
                return groups[head], order[head]

            # The case's describing review: its primary (earliest) first-stage review, or for a
            # case seen only at second stage its earliest second-stage review.
            groups, picks = first_of_each(np.lexsort((rank, date, ~first, inv)))
            describing = np.empty(n_cases, dtype=np.int64)
            describing[groups] = shared[picks]
            # Avoidability: final second-stage score, else the earliest first-stage score given.
            score = np.zeros(n_cases, dtype=np.int64)
            cand = np.flatnonzero(first & (a > 0))
            groups, picks = first_of_each(cand[np.lexsort((rank[cand], date[cand], inv[cand]))])
            score[groups] = a[picks]
            cand = np.flatnonzero(~first & (a > 0))
            groups, picks = first_of_each(cand[np.lexsort((-rank[cand], -date[cand],
                                                           inv[cand]))])
            score[groups] = a[picks]
            any_ld = np.bincount(inv, weights=ld[shared], minlength=n_cases) > 0
            case_row_of[shared] = describing[inv]
            case_avoid[describing] = score
            case_ld[describing] = any_ld
        case_rows = np.flatnonzero(case_row_of == np.arange(self.n_rows))
        position = np.full(self.n_rows, -1, dtype=np.int64)
        position[case_rows] = np.arange(case_rows.size)
        counted_rows = np.flatnonzero(case_row_of >= 0)
        position[counted_rows] = position[case_row_of[counted_rows]]
        self._cache["case_position"] = position
        return Cases(rows=case_rows, avoidability=case_avoid[case_rows],
                     learning_disability=case_ld[case_rows])

    # ------------------------------------------------------------------ grouping
    def period(self, period: str) -> Encoded:
        key = ("period", period)
        if key not in self._cache:
            months = self.strings("death_month")
            labels = [period_label(m, period) for m in months.labels]
            uniq = sorted({x for x in labels if x is not None})
            pos = {v: i for i, v in enumerate(uniq)}
            out: list = list(uniq)
            if any(x is None for x in labels):
                out.append(None)
            remap = np.array([pos[x] if x is not None else len(uniq) for x in labels] or [0],
                             dtype=np.int64)
            self._cache[key] = Encoded(remap[months.codes], out)
        return self._cache[key]

    def reasons(self) -> tuple[np.ndarray, np.ndarray]:
        """``(combo_codes, membership)``: per row a code of its reasons string, and a boolean
        matrix combos x REVIEW_REASONS."""
        if "reasons" not in self._cache:
            enc = self.strings("review_reasons")
            member = np.zeros((enc.size, len(domain.REVIEW_REASONS)), dtype=bool)
            index = {r: i for i, r in enumerate(domain.REVIEW_REASONS)}
            for c, text in enumerate(enc.labels):
                for part in (text or "").split(domain.REASON_SEPARATOR):
                    part = part.strip()
                    if part:
                        if part not in index:
                            raise ValueError(f"unknown review reason {part!r} in review_reasons; "
                                             f"expected ids from {domain.REVIEW_REASONS}")
                        member[c, index[part]] = True
            self._cache["reasons"] = (enc.codes, member)
        return self._cache["reasons"]

    def key(self, name: str) -> Encoded:
        if name in PERIODS:
            return self.period(name)
        if name == "month":
            return self.strings("death_month")
        return self.strings(name)

    def groups(self, rows: np.ndarray, by: Sequence[str] | str | None,
               tag: str | None = None) -> Groups:
        """Group ``rows`` by the named keys (columns, periods or ``review_reason``).

        ``tag`` names the row selection (e.g. ``"first"``) so the grouping can be cached."""
        names = _as_list(by)
        cache_key = ("groups", tag, tuple(names)) if tag else None
        if cache_key in self._cache:
            return self._cache[cache_key]
        result = self._groups(rows, names)
        if cache_key:
            self._cache[cache_key] = result
        return result

    def _groups(self, rows: np.ndarray, names: list[str]) -> Groups:
        if REVIEW_REASON not in names:
            codes_list, label_list = [], []
            for name in names:
                enc = self.key(name)
                codes_list.append(enc.codes[rows])
                label_list.append(enc.labels)
            return _combine(rows, names, codes_list, label_list)
        # Review reasons are multi-valued: group rows by their *combination* of reasons (few),
        # then add each combination's counts into every reason it contains (a 0/1 matrix), so
        # no row is copied.
        combo, member = self.reasons()
        codes_list, label_list = [], []
        for name in names:
            if name == REVIEW_REASON:
                codes_list.append(combo[rows])
                label_list.append(list(range(member.shape[0])))
            else:
                enc = self.key(name)
                codes_list.append(enc.codes[rows])
                label_list.append(enc.labels)
        inner = _combine(rows, names, codes_list, label_list)
        at = names.index(REVIEW_REASON)
        inner_combo = inner.key_codes[at]
        pair_inner, pair_reason = np.nonzero(member[inner_combo])
        out_codes = [pair_reason if j == at else inner.key_codes[j][pair_inner]
                     for j in range(len(names))]
        out_labels = [list(domain.REVIEW_REASONS) if j == at else label_list[j]
                      for j in range(len(names))]
        sizes = [len(lab) for lab in out_labels]
        flat = (np.ravel_multi_index(out_codes, sizes) if pair_inner.size
                else np.zeros(0, dtype=np.int64))
        present, out_index = np.unique(flat, return_inverse=True)
        # Sparse: with other keys there can be thousands of inner and output groups, and a
        # dense inner x output product with a wide count table would take minutes.
        from scipy import sparse  # here: scipy costs a dashboard kernel 0.3 s at start

        mixing = sparse.csr_array(
            (np.ones(pair_inner.size, dtype=np.int64), (pair_inner, out_index.ravel())),
            shape=(inner.n_inner, present.size))
        key_codes = np.unravel_index(present, sizes)
        keys = _keys_frame(names, out_labels, key_codes)
        return Groups(rows, inner.codes, keys, names, inner.n_inner, tuple(key_codes), mixing)


@dataclass(frozen=True)
class Profile:
    """``codes[i]`` is row i's combination; ``values[c, j]`` the code of column j in combination
    c."""

    codes: np.ndarray
    values: np.ndarray

    def indicator(self, column: int, n_values: int) -> np.ndarray:
        """One-hot matrix combos x n_values of column ``column``."""
        out = np.zeros((self.values.shape[0], n_values), dtype=np.int64)
        out[np.arange(self.values.shape[0]), self.values[:, column]] = 1
        return out


@dataclass(frozen=True)
class Cases:
    """One row per reviewed case: ``rows`` are positions in the review frame of the review whose
    attributes describe the case; ``avoidability`` is 0 when not scored."""

    rows: np.ndarray
    avoidability: np.ndarray
    learning_disability: np.ndarray


@dataclass(frozen=True)
class Groups:
    """Rows (positions in the review frame) with an inner group code each, and the table of
    output group keys (one row per observed group, in sorted key order).

    Usually inner groups are the output groups; for ``review_reason`` the inner groups are
    combinations of reasons and ``mixing`` (inner x output, 0/1) adds each into its reasons."""

    rows: np.ndarray
    codes: np.ndarray
    keys: pd.DataFrame
    names: list[str]
    n_inner: int
    key_codes: tuple
    mixing: sparse.csr_array | None = None

    @property
    def size(self) -> int:
        return len(self.keys)

    def count(self, values: np.ndarray, n_values: int) -> np.ndarray:
        """Counts ``groups x n_values`` of ``values`` (ints ``0..n_values-1``, aligned to rows)."""
        if self.n_inner == 1:
            flat = np.bincount(values, minlength=n_values)  # one group: every code is 0
        else:
            flat = np.bincount(self.codes * n_values + values,
                               minlength=self.n_inner * n_values)
        table = flat.reshape(self.n_inner, n_values)
        return table if self.mixing is None else np.asarray(self.mixing.T @ table)

    def total(self, weights: np.ndarray | None = None) -> np.ndarray:
        total = np.bincount(self.codes, weights=weights, minlength=self.n_inner)
        return total if self.mixing is None else np.asarray(self.mixing.T @ total)


def _as_list(by: Sequence[str] | str | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    names = list(by)
    if len(set(names)) != len(names):
        raise ValueError(f"repeated grouping name in {names}")
    return names


def _combine(rows: np.ndarray, names: list[str], codes_list: list[np.ndarray],
             label_list: list[list]) -> Groups:
    if not names:
        return Groups(rows, np.zeros(rows.size, dtype=np.int64), pd.DataFrame(index=range(1)),
                      [], 1, ())
    sizes = [len(lab) for lab in label_list]
    space = int(np.prod(sizes, dtype=np.float64))
    if space <= _MAX_DENSE_GROUPS:
        if len(codes_list) == 1:
            flat = codes_list[0]
        else:
            flat = (np.ravel_multi_index(codes_list, sizes) if rows.size
                    else np.zeros(0, dtype=np.int64))
        present = np.flatnonzero(np.bincount(flat, minlength=space))
        if present.size == space:
            codes = flat  # every combination occurs: the codes are the group numbers
        else:
            remap = np.full(space, -1, dtype=np.int64)
            remap[present] = np.arange(present.size)
            codes = remap[flat]
        key_codes = np.unravel_index(present, sizes)
    else:
        stacked = np.stack(codes_list, axis=1)
        uniq, codes = np.unique(stacked, axis=0, return_inverse=True)
        codes = codes.ravel()
        key_codes = tuple(uniq[:, i] for i in range(len(names)))
    keys = _keys_frame(names, label_list, key_codes)
    return Groups(rows, codes.astype(np.int64, copy=False), keys, names, len(keys),
                  tuple(key_codes))


def _keys_frame(names: list[str], label_list: list[list], key_codes) -> pd.DataFrame:
    return pd.DataFrame({
        name: pd.array([labels[c] for c in kc], dtype=_label_dtype(labels))
        for name, labels, kc in zip(names, label_list, key_codes, strict=True)
    }, index=pd.RangeIndex(len(key_codes[0]) if len(key_codes) else 1))


def _label_dtype(labels: list) -> str:
    present = [x for x in labels if x is not None]
    return "Int64" if present and all(isinstance(x, int) for x in present) else "string"


def table_frame(groups: Groups, columns: dict[str, object],
                inner: dict[str, object] | None = None) -> pd.DataFrame:
    """A table in one construction: the group key columns, then (when given) the ``inner``
    columns crossed with the groups (keys repeated per inner row, inner rows tiled per group,
    group-major order), then ``columns`` (arrays already in that row order)."""
    data: dict[str, object] = {}
    if inner:
        n_inner = len(next(iter(inner.values())))
        repeat = np.repeat(np.arange(groups.size), n_inner)
        for name in groups.keys.columns:
            data[name] = groups.keys[name].array.take(repeat)
        tile = np.tile(np.arange(n_inner), groups.size)
        for name, values in inner.items():
            data[name] = values.take(tile)
    else:
        n_inner = 1
        for name in groups.keys.columns:
            data[name] = groups.keys[name].array.copy()
    data.update(columns)
    return pd.DataFrame(data, index=pd.RangeIndex(groups.size * n_inner))
