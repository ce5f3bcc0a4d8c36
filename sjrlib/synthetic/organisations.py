"""Fictional organisations: invented names, codes in real formats that no real body holds.

A demo report showing "poor care" at a real, named hospital would be a false statement about it
(``shared/spec/calibration.md``), so names are built from invented place names and codes are
``X`` + letter + digit (England; real acute trust ODS codes start with ``R``) and ``S08999`` +
three digits (Scotland; real health boards are ``S08000xxx``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sjrlib.domain import NHS_ENGLAND_REGIONS, ORGANISATION_COLUMNS, ORGANISATION_DTYPES

__all__ = ["ENGLAND_CODE_PATTERN", "SCOTLAND_CODE_PATTERN", "make_organisations"]

ENGLAND_CODE_PATTERN = re.compile(r"^X[A-Z][0-9]$")
SCOTLAND_CODE_PATTERN = re.compile(r"^S08999[0-9]{3}$")

# Invented place-name parts. Combinations were chosen to avoid the towns, cities and counties
# that name real NHS trusts and boards.
_STEMS = (
    "Alder", "Bram", "Carrow", "Dunhal", "Elder", "Fenmar", "Garth", "Hazel", "Ivel", "Kestre",
    "Lark", "Mirren", "Northam", "Ormis", "Pendle", "Quarn", "Rushcor", "Sedge", "Tarn", "Ullis",
    "Valen", "Whin", "Yarrow", "Belcar", "Cranmo", "Drummo", "Eskel", "Glenrae", "Halvor",
    "Inchmar", "Kilbar", "Lochan",
)
_SUFFIXES = ("moor", "dale", "holme", "wick", "ridge", "mere", "beck", "stow", "combe", "haven")
# Combinations that happen to be real places; left out to be safe.
_REAL_PLACES = frozenset({"Sedgemoor", "Whinmoor", "Hazelmere", "Larkmere", "Tarnmoor"})
_SCOTTISH_PLACES = (
    "Glenrae", "Inchmarrow", "Kilbarran", "Lochandrum", "Strathveyne", "Ardmorran", "Balquhidren",
    "Corriebrae", "Dunlochry", "Eilean Varra", "Fintrybrae", "Glenmorvan", "Kinloss Vale",
    "Tarbervie", "Auchendrae", "Craigmorran", "Drumveyne", "Invercarron", "Lochmorven",
    "Strathkeld",
)
_ENGLAND_FORMS = (
    "{} Hospitals NHS Trust",
    "{} Teaching Hospitals NHS Foundation Trust",
    "{} University Hospitals NHS Foundation Trust",
    "{} and District NHS Foundation Trust",
    "{} General Hospital NHS Trust",
)
# Share of English trusts per NHS England region (approximate, from the number of acute trusts).
_REGION_WEIGHTS = {
    "East of England": 0.12,
    "London": 0.15,
    "Midlands": 0.17,
    "North East and Yorkshire": 0.16,
    "North West": 0.15,
    "South East": 0.15,
    "South West": 0.10,
}
# Real postcode areas (outward codes alone are allowed and are not identifying).
_POSTCODE_AREAS = {
    "East of England": ("CB", "CM", "CO", "IP", "NR", "PE", "LU", "SG"),
    "London": ("E", "N", "NW", "SE", "SW", "W"),
    "Midlands": ("B", "CV", "DE", "LE", "NG", "WS", "WV", "ST", "DY"),
    "North East and Yorkshire": ("LS", "BD", "HU", "NE", "SR", "TS", "YO", "S", "DN", "HG", "DL"),
    "North West": ("M", "L", "PR", "BB", "BL", "CH", "CW", "WA", "WN", "OL", "SK", "LA", "CA"),
    "South East": ("BN", "GU", "KT", "RH", "TN", "ME", "OX", "RG", "SO", "PO", "CT", "MK"),
    "South West": ("BS", "BA", "EX", "PL", "TR", "TA", "GL", "BH", "DT", "SN"),
    "Scotland": ("AB", "DD", "EH", "FK", "G", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "TD", "DG"),
}
assert set(_REGION_WEIGHTS) == set(NHS_ENGLAND_REGIONS)


def scottish_count(n_organisations: int, n_scottish: int = 14, default_total: int = 134) -> int:
    """Number of Scottish boards among ``n_organisations`` (14 of 134 by default, scaled down)."""
    if n_organisations >= default_total:
        return min(n_scottish, n_organisations)
    return min(n_scottish, int(round(n_scottish * n_organisations / default_total)))


def _place_names(rng: np.random.Generator, n: int) -> list[str]:
    pool = [s + x for s in _STEMS for x in _SUFFIXES if s + x not in _REAL_PLACES]
    if n > len(pool):
        raise ValueError(f"at most {len(pool)} English organisations can be named, asked for {n}")
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


def make_organisations(
    rng: np.random.Generator, n_organisations: int, n_scottish: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the organisations frame and ``{organisation_code: postcode_area}``.

    Parameters
    ----------
    rng : numpy Generator
    n_organisations : total number of organisations (English trusts + Scottish boards)
    n_scottish : how many of them are Scottish boards
    """
    n_england = n_organisations - n_scottish
    if n_england > 26 * 10:
        raise ValueError(f"at most 260 English codes (X + letter + digit), asked for {n_england}")
    if n_scottish > len(_SCOTTISH_PLACES):
        raise ValueError(f"at most {len(_SCOTTISH_PLACES)} Scottish boards, asked for {n_scottish}")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    all_codes = [f"X{a}{d}" for a in letters for d in range(10)]
    codes = sorted(all_codes[i] for i in rng.choice(len(all_codes), n_england, replace=False))
    places = _place_names(rng, n_england)
    forms = rng.integers(0, len(_ENGLAND_FORMS), n_england)
    regions = list(_REGION_WEIGHTS)
    weights = np.array(list(_REGION_WEIGHTS.values()))
    region_idx = rng.choice(len(regions), n_england, p=weights / weights.sum())
    rows = []
    for code, place, form, r in zip(codes, places, forms, region_idx, strict=True):
        rows.append((code, _ENGLAND_FORMS[form].format(place), "england", regions[r]))
    scot_places = rng.choice(len(_SCOTTISH_PLACES), n_scottish, replace=False)
    for i, p in enumerate(sorted(scot_places)):
        rows.append((f"S08999{i + 1:03d}", f"NHS {_SCOTTISH_PLACES[p]}", "scotland", "Scotland"))
    frame = pd.DataFrame(rows, columns=list(ORGANISATION_COLUMNS)).astype(ORGANISATION_DTYPES)
    areas = {}
    for code, region in zip(frame["organisation_code"], frame["region"], strict=True):
        choices = _POSTCODE_AREAS[region]
        areas[code] = choices[int(rng.integers(0, len(choices)))]
    return frame, areas
