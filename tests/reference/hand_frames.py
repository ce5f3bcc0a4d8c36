"""The small hand-made frames whose statistics are derived by hand in the reference tests."""

from __future__ import annotations

import pandas as pd
from strategies import make_reviews

from sjrlib import domain


def hand_reviews() -> pd.DataFrame:
    """Seven reviews, two organisations (see the derivations in the tests).

    XAA C1: first-stage V0 (R1, overall 2) and a double first-stage V1 (R2, overall 4, records a
    learning disability) and a second-stage V2 (avoidability 3). XAA C2: V3 (overall 1,
    first-stage avoidability 2, learning disability). XAA C3: a draft V4. XAB C1 (a different
    case from XAA C1): V5 (overall 5, avoidability 6). XAB C4: V6 (overall 3, two reasons).
    """
    return make_reviews([
        dict(review_id="V0", case_id="C1", reviewer_id="R1", review_date="2024-01-10",
             death_month="2023-12", score_overall=2, score_admission=3,
             problem_monitoring="yes", problem_assessment="probably"),
        dict(review_id="V1", case_id="C1", reviewer_id="R2", review_date="2024-01-20",
             death_month="2023-12", score_overall=4, score_admission=3,
             learning_disability="yes"),
        dict(review_id="V2", case_id="C1", reviewer_id="R3", review_date="2024-02-01",
             death_month="2023-12", review_stage="second", second_review_of="V0",
             score_overall=2, avoidability_score=3),
        dict(review_id="V3", case_id="C2", reviewer_id="R1", review_date="2024-04-02",
             death_month="2024-03", score_overall=1, score_admission=1,
             problem_medication="yes", problem_treatment="no", avoidability_score=2,
             learning_disability="yes"),
        dict(review_id="V4", case_id="C3", status="draft", death_month="2023-12",
             score_overall=1),
        dict(review_id="V5", organisation_code="XAB", case_id="C1", review_date="2024-05-01",
             death_month="2024-04", score_overall=5, score_admission=5, avoidability_score=6),
        dict(review_id="V6", organisation_code="XAB", case_id="C4", review_date="2024-06-01",
             death_month="2024-05", score_overall=3, problem_other="yes",
             review_reasons="family_concern;learning_disability", learning_disability="yes"),
    ])


def hand_deaths() -> pd.DataFrame:
    return pd.DataFrame(
        [("XAA", "2023-12", 40, 1), ("XAA", "2024-01", 35, 0), ("XAA", "2024-03", 30, 2),
         ("XAB", "2024-04", 50, 1), ("XAB", "2024-05", 20, 0), ("XAC", "2024-04", 10, 0)]
        # Months with no deaths, reported as 0 so every quarter's feed is complete (a month
        # absent from the feed makes its quarter "not known": test_missing_feed_...).
        + [("XAA", "2023-10", 0, 0), ("XAA", "2023-11", 0, 0), ("XAA", "2024-02", 0, 0),
           ("XAB", "2024-06", 0, 0), ("XAC", "2024-05", 0, 0), ("XAC", "2024-06", 0, 0)],
        columns=list(domain.DEATH_COLUMNS),
    ).astype(domain.DEATH_DTYPES)
