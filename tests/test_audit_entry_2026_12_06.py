"""The held-out acceptance audit of 2026-12-06, without a browser: the exploration dashboard.

On a selection of one death (a month and a specialty), the care-score and problems tabs drew
"Fewer than 8 reviews: chart not shown" and, under it, tables printing "100.0%" poor care per
phase and "100.0%" of reviews with a problem. A table on fewer than 8 cases now says so instead,
as the chart does; with 8 or more the tables are there as before.
"""

from __future__ import annotations

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import TABS, Explorer
from sjrlib.plots import MIN_CASES


@pytest.fixture(scope="module")
def lead(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('audit-explore') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return Explorer(open_session(users.lead, url, tool="test"))


def _shown(explorer: Explorer, tab: str) -> list[str]:
    explorer.tabs.selected_index = TABS.index(tab)
    return [getattr(child, "value", "") for child in explorer.views[tab][1].children
            if isinstance(getattr(child, "value", None), str)]


def _narrow_to_few(explorer: Explorer) -> int:
    """Set the filters to one month and one specialty matching 1 to 7 deaths."""
    f = explorer.filters
    months = [v for _, v in f["start_month"].options]
    specialties = [v for _, v in f["specialty"].options[1:]]
    for month in reversed(months):
        f["start_month"].value, f["end_month"].value = month, month
        for specialty in specialties:
            f["specialty"].value = specialty
            n = explorer._codes.cases(explorer._rows, explorer._stage)
            if 1 <= n < MIN_CASES:
                return n
    pytest.fail("no month and specialty with 1 to 7 deaths in the test data")


@pytest.mark.parametrize("tab, table", [("Care scores", "% poor or very poor care"),
                                        ("Problems in care", "% of reviews")])
def test_tables_on_fewer_than_8_cases_say_so_instead(lead, tab, table):
    f = lead.filters
    months = [v for _, v in f["start_month"].options]
    f["start_month"].value, f["end_month"].value = months[0], months[-1]
    f["specialty"].value = "__all__"
    assert lead._codes.cases(lead._rows, lead._stage) >= MIN_CASES
    assert any(table in text for text in _shown(lead, tab))  # enough cases: the table

    n = _narrow_to_few(lead)
    shown = " ".join(_shown(lead, tab))
    assert table not in shown and "%" not in shown
    assert f"Fewer than {MIN_CASES} deaths match the filters ({n})" in shown


def test_learning_from_deaths_counts_whole_quarters_whatever_months_are_chosen(lead):
    """Mar 2026 alone printed part of Q4 as the quarter (deaths in scope 'not known', 24
    reviewed of March only) and said January and February were missing from the deaths feed,
    which had them: the quarter is now counted whole, and the caption says so."""
    from sjrlib.stats._reviews import financial_quarter, quarter_first_month

    f = lead.filters
    f["specialty"].value = "__all__"
    months = [v for _, v in f["start_month"].options]
    fed = set(lead.all_deaths["month"].dropna())
    # the last month that ends a financial quarter whose three months are all in the feed
    end = next(m for m in reversed(months) if m[5:7] in ("03", "06", "09", "12")
               and {m, *months[max(0, months.index(m) - 2):months.index(m)]} <= fed)
    start = quarter_first_month(financial_quarter(end))

    def tables(first: str, last: str) -> tuple[str, str]:
        f["start_month"].value, f["end_month"].value = first, last
        lead.tabs.selected_index = TABS.index("Learning from Deaths")
        caption, body = lead.views["Learning from Deaths"]
        return caption.value, " ".join(c.value for c in body.children
                                       if isinstance(c.value, str))

    _, whole = tables(start, end)
    caption, one_month = tables(end, end)
    assert one_month == whole
    assert "lacks a month" not in one_month
    assert "Whole quarters" in caption and "outside the filters' period" in caption


# ---------------------------------------------------------------------------- review entry
@pytest.fixture(scope="module")
def entry_store(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('audit-entry') / 'sjr.db'}"
    populate(url, small_data)
    return url, add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))


def _typed(form) -> None:
    f = form.fields
    f["case_id"].widget.value = "ASIDE-0001"
    f["age_at_death"].widget.value = "eighty"  # not yet valid: kept as typed
    f["death_month"].widget.value = "2026-09"
    form._na["ongoing"].value = True
    f["score_admission"].widget.value = 2
    f["comment_admission"].widget.value = "Sepsis screen not done at triage."
    form.problem_present["monitoring"].value = True  # ticked, harm not yet chosen
    form.reason_boxes["family_concern"].value = True


@pytest.mark.parametrize("leave", ["new review", "a draft chosen", "open by id"])
def test_unsaved_typing_is_put_aside_and_can_be_brought_back(entry_store, leave):
    """Half a review typed, then a draft chosen from 'my drafts' (or New review, or Open
    review) replaced it without a word: it is now put aside and offered back."""
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    session = open_session(users.reviewer, url, tool="test")
    draft_id, _ = session.save_review({"review_id": f"SJR-ASIDE{leave[:3].upper()}",
                                       "review_stage": "first",
                                       # a case of its own: one reviewer, one first-stage
                                       # review of a case (the session refuses a second)
                                       "case_id": f"OTHER-{leave[:3].upper()}",
                                       "status": "draft", "age_at_death": 70})
    form = ReviewForm(session, today=dt.date(2026, 11, 20))
    _typed(form)
    before = form.values()
    if leave == "new review":
        form.new_button.click()
    elif leave == "a draft chosen":
        form._refresh_lists()
        form.drafts_select.value = draft_id
    else:
        form.open_id.value = draft_id
        form.open_button.click()
    assert form.fields["case_id"].value != "ASIDE-0001"
    assert form.aside_box.layout.display != "none"
    assert "ASIDE-0001" in form.aside_text.value and "Nothing of it was saved" in \
        form.aside_text.value

    form.aside_restore.click()
    after = form.values()
    assert {k: v for k, v in after.items() if v is not None} == \
        {k: v for k, v in before.items() if v is not None}
    assert form._na["ongoing"].value and form.problem_present["monitoring"].value
    assert form.review_id is None and form.aside_box.layout.display == "none"
    assert form.last_errors.get("age_at_death")  # still said beside the field
    if leave != "new review":  # the draft opened had no changes: nothing put aside for it
        assert not form._aside
    with open_session(users.reviewer, url, tool="test") as s:
        assert (s.reviews()["case_id"] == "ASIDE-0001").sum() == 0


def test_a_saved_form_is_not_put_aside(entry_store):
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    form = ReviewForm(open_session(users.reviewer, url, tool="test"), today=dt.date(2026, 11, 20))
    form.fields["case_id"].widget.value = "ASIDE-0002"
    assert form.save(submit=False)
    form.new_button.click()
    assert not form._aside and form.aside_box.layout.display == "none"


def test_my_drafts_shows_its_blank_option_not_an_empty_box(entry_store):
    """After a draft was chosen and New review pressed (or a draft saved), 'Continue a draft'
    was an empty box: ipywidgets clears the index when the value becomes None."""
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    session = open_session(users.reviewer, url, tool="test")
    session.save_review({"review_id": "SJR-BLANKBOX1", "review_stage": "first",
                         "case_id": "BLANK-0001", "status": "draft"})
    form = ReviewForm(session, today=dt.date(2026, 11, 20))
    form.drafts_select.value = "SJR-BLANKBOX1"
    assert form.review_id == "SJR-BLANKBOX1"
    form.new_button.click()
    assert form.drafts_select.index == 0 and form.drafts_select.value is None
    form.fields["case_id"].widget.value = "BLANK-0002"
    assert form.save(submit=False)
    assert form.drafts_select.index == 0
    assert form.queue_select.index == 0


def test_an_nhs_number_typed_to_open_a_review_is_not_looked_up_nor_audited(entry_store):
    """'Open review' with an NHS number (a clinician looking for a case) asked the session,
    which recorded the refused look-up with the number in the append-only audit log."""
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    form = ReviewForm(open_session(users.reviewer, url, tool="test"),
                      today=dt.date(2026, 11, 20))
    form.open_id.value = "943 476 5919"
    form.open_button.click()
    assert "Not looked up" in form.banner.value and "NHS number" in form.banner.value
    assert form.open_id.value == ""
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log()
    assert not log["scope"].astype(str).str.contains("943 476 5919|9434765919").any()
    form.open_id.value = "XA9-SJR999999"  # a review id is still looked up (and refused)
    form.open_button.click()
    assert "Cannot open review XA9-SJR999999" in form.banner.value


def test_a_phase_scored_in_fewer_than_8_reviews_shows_no_percentage(lead):
    """With 8 or more deaths, a phase scored in 1 to 7 of them printed its % poor care (e.g.
    'Care during a procedure' 6 reviews, 33.3%) beside a chart saying of the same phase
    'Scored in fewer than 8 reviews: not shown'."""
    import re

    from sjrlib import domain

    f = lead.filters
    months = [v for _, v in f["start_month"].options]
    f["start_month"].value, f["end_month"].value = months[0], months[-1]
    found = None
    for specialty in [v for _, v in f["specialty"].options]:
        f["specialty"].value = specialty
        if lead._codes.cases(lead._rows, lead._stage) < MIN_CASES:
            continue
        from sjrlib.stats import descriptive

        dist = descriptive.care_score_distribution(lead.reviews, stage=lead._stage)
        n = dist.groupby("phase")["n_applicable"].first()
        few = [p for p in domain.PHASES if 0 < int(n.get(p, 0)) < MIN_CASES]
        if few:
            found = few[0]
            break
    if found is None:
        pytest.skip("no selection with a phase scored in 1 to 7 reviews")
    lead.tabs.selected_index = TABS.index("Care scores")
    caption, body = lead.views["Care scores"]
    table = body.children[1].value
    label = html_escape(domain.label("phase", found))
    row = re.search(rf"<th[^>]*>{re.escape(label)}</th>(.*?)</tr>", table).group(1)
    assert "%" not in row
    assert f"fewer than {MIN_CASES} reviews is not shown" in caption.value


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_the_same_review_saved_from_two_tabs_names_the_other_tab(entry_store):
    """Two tabs of one reviewer on one draft: the second save was refused (nothing
    overwritten) but told 'someone else changed this review', which the reviewer knew to be
    untrue; it now says it may have been them, in another tab or window."""
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    tabs = [ReviewForm(open_session(users.reviewer, url, tool="test"),
                       today=dt.date(2026, 11, 20)) for _ in range(2)]
    tabs[0].fields["case_id"].widget.value = "TABS-0001"
    assert tabs[0].save(submit=False)
    for tab in tabs:
        tab.open(tabs[0].review_id)
    tabs[0].fields["age_at_death"].widget.value = "80"
    assert tabs[0].save(submit=False)
    tabs[1].fields["age_at_death"].widget.value = "81"
    assert not tabs[1].save(submit=False)
    assert "or you did, in another tab or window" in tabs[1].outcome.value
    with open_session(users.reviewer, url, tool="test") as s:
        assert s.review(tabs[0].review_id)["age_at_death"] == 80


def test_a_second_new_review_of_the_same_case_by_the_same_reviewer_is_not_saved(entry_store):
    """Two tabs, each a new review of case TWIN-0001, saved in both: two first-stage reviews
    of one case by one reviewer. The second is now refused, nothing saved, answers kept."""
    import datetime as dt

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = entry_store
    tabs = [ReviewForm(open_session(users.reviewer, url, tool="test"),
                       today=dt.date(2026, 11, 20)) for _ in range(2)]
    for tab in tabs:
        tab.fields["case_id"].widget.value = "TWIN-0001"
        tab.fields["age_at_death"].widget.value = "80"
    assert tabs[0].save(submit=False)
    assert not tabs[1].save(submit=False)
    assert "already have a first-stage review of case TWIN-0001" in tabs[1].outcome.value
    assert tabs[0].review_id in tabs[1].outcome.value
    assert tabs[1].fields["age_at_death"].value == 80 and tabs[1].review_id is None
    with open_session(users.reviewer, url, tool="test") as s:
        assert (s.reviews()["case_id"] == "TWIN-0001").sum() == 1
    tabs[1].fields["case_id"].widget.value = "TWIN-0002"  # another case: saved
    assert tabs[1].save(submit=False)
