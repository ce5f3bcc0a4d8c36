"""Finding people's names in clinical free text (used by :mod:`sjrlib.privacy`).

Names can only be guessed. Three rules, each anchored on something the bulk screen can see:

* **title**: ``Mr``, ``MRS``, ``dr``, ``Sister``... followed by a word: a capitalised word after a
  title written as a title (``Mr Smith``, ``Dr Nkemelu``), a word in capitals after a title in
  capitals (``MR SMITH``), or any word on the name lists (``Mrs o'neill``, ``mr smith``); with
  the capitalised word after it when that is on the lists, or when the first is a first name or
  on no list (``Mrs Jane Smithson``, ``Sister Mary Okonkwo-Bello``; not ``Dr Patel Cardiology``),
  or a word on the lists after a name in lower case (``mr john smith``; not ``Dr Smith will``);
* **cue**: a relation or role (``daughter``, ``wife``, ``patient``, ``seen by``, ``NOK``,
  ``name:``...) followed by a first name, alone or with a surname (``Daughter Sarah``,
  ``patient Jane Doe``, ``NOK: KAREN WALKER``);
* **first name + surname** with no cue: a first name on the lists that is not also an everyday
  word (``Will``, ``May``, ``Grace``...) followed by a capitalised word (``John Smith``,
  ``Mohammed Khan``), or in capitals by a surname on the lists (``ANNE WILSON``).

A name is not reported when it is followed by what makes it an eponym or an institution
(``Parkinson's disease``, ``Charles Bonnet syndrome``, ``John Radcliffe Hospital``,
``Victoria Ward``), when it is a known eponym in the possessive (``Addison's``), or after
``St``/``Queen``/``King`` (``St Thomas``, ``Queen Elizabeth``). After a title it is a person
whatever follows (``Mr John Radcliffe``).

Where two rules find parts of one name (``Mrs Jane`` by its title, ``Jane Smithson`` as a pair),
it is one finding, masked whole.

The name lists are the person-name lists of the Faker package (maintained, MIT licensed, shipped
in the wheel: nothing is downloaded), for the English-speaking locales whose names appear in UK
hospitals (English-speaking GB, IE, US, NZ, IN, PK, NG, KE; and Irish, Polish, Romanian,
Lithuanian, German, French, Italian, Spanish, Portuguese, Turkish, Indonesian, Yoruba, Igbo,
Hausa, Twi, Zulu and Swahili names written in plain Latin letters).
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache

__all__ = ["CUE_WORDS", "TITLES", "find_names", "first_names", "name_triggers_re2", "surnames"]

_LOCALES = ("en_GB", "en_IE", "en_US", "en_NZ", "en_IN", "en_PK", "en_NG", "en_KE", "ga_IE",
            "pl_PL", "ro_RO", "lt_LT", "de_DE", "fr_FR", "it_IT", "es_ES", "pt_PT", "tr_TR",
            "id_ID", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA", "sw")

TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sister", "nurse", "rev",
          "revd", "sir", "dame", "lady", "lord")
"""Titles before a name (matched in any case)."""

CUE_WORDS = (
    "patient", "pt", "son", "daughter", "wife", "husband", "partner", "brother", "sister",
    "mother", "father", "mum", "mom", "dad", "nephew", "niece", "grandson", "granddaughter",
    "grandchild", "aunt", "uncle", "cousin", "friend", "carer", "neighbour", "neighbor", "widow",
    "widower", "relative", "fiance", "fiancee", "nok", "next of kin", "name", "named", "called",
    "known as", "seen by", "reviewed by", "examined by", "spoke to", "spoke with",
    "discussed with", "informed", "gp", "lpa",
)
"""Words after which a first name is taken as a name (matched in any case)."""

# First names that are also everyday words: a name only after a title or a cue.
_EVERYDAY = frozenset(
    "will may mark grace hope faith joy rose ivy amber holly dawn summer april june august "
    "victoria bill sue jack pat art rich frank earl dean guy ray gay lee sandy penny ruby pearl "
    "jade crystal iris daisy lily violet heather jasmine hazel sky storm river brook cliff dale "
    "glen heath miles rusty lance chase hunter mercy patience prudence charity honor honour "
    "harmony melody autumn winter star page major king prince duke earl baron chance gene drew "
    "bob rob sam ben max dot kit nick norm wade will bud buck chip don ed al jo val viv gus "
    "ward hall long young white black green brown bell wells hill wood lane moss case rush foot "
    "day sharp strong hardy bishop church chapel major marshal sterling"
    .split()
)

# Words that follow a title or a first name without being a name.
_NOT_NAMES = frozenset(
    "on in at of the and or to for was is were be been had has have he she they his her their "
    "this that it no not yes also but then after before given seen review reviewed registrar "
    "consultant team practitioner nurse nurses ward wards bay bed room unit hospital doctor "
    "doctors on-call oncall call house houseman sho fy1 fy2 spr st ct reg staff surgeon "
    "physician anaesthetist anesthetist deputy ward-round round rounds office a an any all "
    "each every who which with without by from as if so when where what why how please "
    "documented noted felt thought said asked agreed wrote saw did does do".split()
)

_EPONYMS = frozenset(
    "addison alzheimer barrett bell bonnet blatchford braden breslow child crohn curie cushing "
    "down duke dukes fournier glasgow graves guillain hartmann hashimoto hodgkin hunt huntington "
    "kaposi korsakoff kussmaul lewy ludwig mallory meniere murphy nightingale paget parkinson "
    "pugh radcliffe ramsay rockall rockwood sjogren stevens stokes takotsubo virchow waterlow "
    "weiss wells wernicke whipple wilson apgar gleason abbey macmillan marie charles cheyne "
    "johnson barre raynaud reiter still tourette turner klinefelter marfan "
    "munchausen bowen buerger colles smith bennett monteggia galeazzi pott".split()
)
"""Surnames that name diseases, signs and scores: not a name in the possessive."""

# After a name, these make it an eponym, a place or an institution.
_AFTER = re.compile(
    r"(?:'s|s'|')?\s*(?:-\s*[A-Za-z]+\s+)?(?:disease|syndrome|sign|score|scale|criteria|"
    r"classification|test|procedure|operation|reflex|palsy|phenomenon|triad|law|lymphoma|"
    r"sarcoma|tumou?r|ulcer|fracture|node|angina|gangrene|encephalopathy|thyroiditis|dementia|"
    r"bod(?:y|ies)|hospital|infirmary|cent(?:re|er)|house|unit|ward|wing|building|hospice|"
    r"trust|clinic|practice|surgery|medical|nurse|nursing|foundation|university|institute|"
    r"college|school|road|street|avenue|lane|drive|line|care|team|service|suite|theatre|"
    r"block|floor|pavilion|lodge|court|home|protocol|pathway|framework|regimen|technique|"
    r"manoeuvre|maneuver|position|catheter|tube|line|needle|splint|cast|repair|shunt|"
    r"fistula|diverticulum|cyst|space|stage|grade|type|index|rule|tool|chart|form)\b",
    re.IGNORECASE,
)
_BEFORE = re.compile(r"(?:\b(?:st|saint|queen|king|prince|princess|lady|sir|lord)\.?\s+)$",
                     re.IGNORECASE)

_CAP = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:['-](?:[A-Z][a-z]*|[a-z]+))*"
_UP = r"[A-Z]{2,}(?:['-][A-Z]+)*"
_INITIAL = r"(?:[A-Z]\.?[ ]{1,2})?"
# Lookaheads: "Mr. and Mrs. Patel" tries "Mr. and Mrs" and still finds "Mrs. Patel".
_TITLE_RE = re.compile(
    rf"\b(?=(?i:({'|'.join(TITLES)}))\b\.?[ ]{{1,2}}{_INITIAL}([A-Za-z][A-Za-z'-]*[A-Za-z])"
    rf"(?:[ ]{{1,2}}({_CAP}|{_UP}|[a-z][a-z'-]*[a-z]))?)"
)
# A cue is looked for before each capital that follows a separator (faster than a pattern of
# every cue at every position); the name is then matched from that capital.
_CUES = frozenset(CUE_WORDS)
_AFTER_SEPARATOR = re.compile(r"(?<=[ ,:(-])[A-Z]")
_NAME_AT = re.compile(rf"({_CAP}|{_UP})(?:[ ]{{1,2}}{_INITIAL}({_CAP}|{_UP}))?")
_TOKEN = re.compile(r"[a-z0-9_]+")
# A lookahead, so that "Dear John Smith" still finds "John Smith" after trying "Dear John".
_PAIR_RE = re.compile(rf"\b(?=([A-Z][a-z]+|[A-Z]{{3,}})[ ]{{1,2}}{_INITIAL}({_CAP}|{_UP})\b)")


@lru_cache(maxsize=1)
def _lists() -> tuple[frozenset[str], frozenset[str]]:
    first: set[str] = set()
    last: set[str] = set()
    for locale in _LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        # Latin letters only: names with accents are not matched by the patterns anyway.
        first.update(n.lower() for n in getattr(provider, "first_names", ()) if n.isascii())
        last.update(n.lower() for n in getattr(provider, "last_names", ()) if n.isascii())
    return frozenset(first), frozenset(last)


def first_names() -> frozenset[str]:
    """The first names (lower case) from the Faker lists."""
    return _lists()[0]


def surnames() -> frozenset[str]:
    """The surnames (lower case) from the Faker lists."""
    return _lists()[1]


@lru_cache(maxsize=1)
def name_triggers_re2() -> tuple[str, ...]:
    """RE2 patterns one of which every name finding contains (a title, a cue word, or a first
    name the no-cue rule starts from followed by a capital), for the bulk screen, which joins
    them with its other candidate patterns into one RE2 alternation. No list of names goes in:
    an alternation of every first name falls off RE2's fast automaton."""
    cues = "|".join(w.replace(" ", r"\W+") for w in CUE_WORDS)
    # Any capitalised word followed by a capital stands for "a first name and a surname": an
    # alternation of every first name falls off RE2's fast automaton (seconds on 150k texts).
    return (rf"(?i:\b(?:{'|'.join(TITLES)})\b)\W{{1,3}}[A-Za-z]",
            rf"(?i:\b(?:{cues})\b)\W{{1,4}}[A-Z]",
            r"[A-Z][a-z]+\W{1,4}[A-Z]|[A-Z]{3,}\W{1,4}[A-Z]")


def _cue_names(text: str) -> list[re.Match]:
    """Names (``_NAME_AT`` matches) right after a cue word and 1-4 separators."""
    found = []
    for capital in _AFTER_SEPARATOR.finditer(text):
        at = capital.start()
        head = text[max(0, at - 40) : at]
        bare = head.rstrip(" ,:(-")
        if not bare or len(head) - len(bare) > 4:
            continue
        words = _TOKEN.findall(bare.lower())
        if not words or not bare.lower().endswith(words[-1]):
            continue
        if any(" ".join(words[-n:]) in _CUES for n in (1, 2, 3)):
            m = _NAME_AT.match(text, at)
            if m:
                found.append(m)
    return found


def _is_name(word: str) -> bool:
    w = word.lower()
    return w in first_names() or w in surnames()


def _blocked(text: str, start: int, end: int, words: list[str]) -> bool:
    """An eponym, an institution or a place rather than a person."""
    if _AFTER.match(text, end):
        return True
    if _BEFORE.search(text[max(0, start - 10) : start]):
        return True
    if any(_AFTER.fullmatch(w) for w in words[1:]):
        return True
    last = words[-1].lower()
    return last in _EPONYMS and text[end : end + 2] in ("'s", "s'")


def _surname_after(word: str, more: str | None) -> bool:
    """Whether ``more``, the word after a title's ``word``, is part of the name: the surname
    after a first name ("Mrs Jane Smithson", "Sister Mary Okonkwo-Bello"), on the lists or not,
    but not a word after a surname ("Dr Patel Cardiology"); in lower case only a word on the
    lists after a word in lower case ("mr john smith", not "Dr Smith will")."""
    if not more or more.lower() in _NOT_NAMES or more.lower() in TITLES:
        return False
    if more[0].islower():
        return word.islower() and _is_name(more)
    if _is_name(more):
        return True
    return not _AFTER.fullmatch(more) and (word.lower() in first_names() or not _is_name(word))


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of likely names in ``text`` (already normalised by
    :func:`sjrlib.privacy.normalise`: spaces and apostrophes plain)."""
    spans: list[tuple[int, int]] = []
    for m in _TITLE_RE.finditer(text):
        title, word, more = m.group(1), m.group(2), m.group(3)
        if word.lower() in _NOT_NAMES or word.lower() in TITLES:
            continue
        canonical = title[0].isupper() and (len(title) == 1 or title[1:].islower())
        upper = title.isupper() and len(title) > 1 and title.lower() != "ms"
        if not (_is_name(word) or (canonical and word[0].isupper() and not word.isupper())
                or (canonical and word.isupper() and len(word) > 1)
                or (upper and word.isupper())):
            continue
        spans.append((m.start(1), m.end(3) if _surname_after(word, more) else m.end(2)))
    for m in _cue_names(text):
        first, second = m.group(1), m.group(2)
        if first.lower() in _NOT_NAMES or first.lower() in TITLES:
            continue
        words = [first]
        end = m.end(1)
        if second and second.lower() not in _NOT_NAMES and (
            first.lower() in first_names() or _is_name(second)
        ):
            words.append(second)
            end = m.end(2)
        if first.lower() not in first_names() and len(words) == 1:
            continue
        if len(words) == 2 and not (first.lower() in first_names() or _is_name(first)):
            continue
        if not _blocked(text, m.start(1), end, words):
            spans.append((m.start(1), end))
    for m in _PAIR_RE.finditer(text):
        first, second = m.group(1), m.group(2)
        f = first.lower()
        if f not in first_names() or f in _EVERYDAY or f in _NOT_NAMES or len(f) < 2:
            continue
        if second.lower() in _NOT_NAMES or second.lower() in TITLES:
            continue
        if first.isupper() != second.isupper():
            continue
        if first.isupper() and (len(first) < 3 or second.lower() not in surnames()):
            continue
        if not _blocked(text, m.start(1), m.end(2), [first, second]):
            spans.append((m.start(1), m.end(2)))
    # One span for one name found by two rules ("Mrs Jane" by its title and "Jane Smithson" as
    # a pair): else the longer-ranked part alone is masked and the rest is written out.
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
