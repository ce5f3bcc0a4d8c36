"""The differencing attack by brute force, for the tests (not a test file): independent of
``sjrlib.disclosure.differencing_risk``, which the reports use."""

from __future__ import annotations


def narrowed(national: int, per_org: list[int], rule) -> bool:
    """Does the rounded national count, set against each organisation's own published cell
    (0; ``*`` = 1..threshold; rounded), rule out a value an organisation's cell allows?"""
    def allowed(c: int) -> range:
        if c == 0:
            return range(0, 1)
        if rule.is_small(c):
            return range(1, rule.threshold + 1)
        shown = rule.round(c)
        return range(max(rule.threshold + 1, shown - rule.rounding // 2),
                     shown + (rule.rounding - 1) // 2 + 1)

    if rule.is_small(national):
        return False  # a suppressed national count: withheld anyway
    shown = rule.round(national)
    totals = set(range(shown - rule.rounding // 2, shown + (rule.rounding - 1) // 2 + 1))
    ranges = [allowed(c) for c in per_org]
    for j, own in enumerate(ranges):
        others = ranges[:j] + ranges[j + 1:]
        lo, hi = sum(r.start for r in others), sum(r.stop - 1 for r in others)
        if any(not any(lo <= t - v <= hi for t in totals) for v in own):
            return True
    return False


def attacked(p) -> list:
    """What a :class:`sjrlib.disclosure_check.Problem` built by a test gives a reader: its
    interval propagation, then its relations taken together (up to four rounds, as the
    checker runs them), and every ``*`` narrowed inside 1 to the threshold."""
    findings = p.solve()
    for _ in range(4):
        if not p.combine(owner=lambda key: 0):
            break
        findings = p.solve()
    return findings + p.narrowed()
