"""The exploration dashboard without a browser: scope, filters, redraws, disclosure control."""

from __future__ import annotations

import re

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import TABS, Explorer, explore


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('explore') / 'sjr.db'}"
    populate(url, small_data)
    return url, add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))


@pytest.fixture(scope="module")
def lead(store):
    url, users = store
    return Explorer(open_session(users.lead, url, tool="test"))


@pytest.fixture(scope="module")
def national(store):
    url, users = store
    return Explorer(open_session(users.programme, url, tool="test"))


def _counts_in(html: str) -> list[int]:
    cells = re.findall(r"<td>([0-9,]+)</td>", html)
    return [int(c.replace(",", "")) for c in cells]


def test_a_lead_sees_only_their_organisation_with_exact_counts_marked_internal(lead, store):
    """The organisation audience: exact counts of their own organisation, marked for internal
    governance (the lead may read the reviews themselves; rounding would protect nothing)."""
    _, users = store
    assert set(lead.all_reviews["organisation_code"]) == {users.organisation}
    assert set(lead.all_deaths["organisation_code"]) == {users.organisation}
    assert not lead.rule.active
    org = lead.filters["organisation_code"]
    assert [v for _, v in org.options] == [users.organisation] and org.disabled
    assert "(rounded)" not in lead.summary.value
    assert "For internal governance: apply disclosure control before publishing" in \
        lead.widget.children[1].value
    shown = int(re.search(r"<b>([0-9,]+)", lead.summary.value).group(1).replace(",", ""))
    first_stage = lead.all_reviews[lead.all_reviews["review_stage"] == "first"]
    assert shown == first_stage["case_id"].nunique()
    lead.tabs.selected_index = TABS.index("Care scores")
    counts = _counts_in(lead.views["Care scores"][1].children[1].value)
    assert counts and any(c % 5 for c in counts)  # not rounded


def test_a_filter_change_redraws_the_tab_on_screen_only(lead):
    lead.tabs.selected_index = TABS.index("Care scores")
    image = lead.views["Care scores"][1].children[0]
    before, draws, summary = image.value, lead.draws, lead.summary.value
    specialties = [v for _, v in lead.filters["specialty"].options[1:]]
    lead.filters["specialty"].value = specialties[0]
    assert lead.draws == draws + 1  # only the visible tab was drawn again
    assert set(lead.reviews["specialty"]) == {specialties[0]}
    assert lead.summary.value != summary
    assert lead.views["Care scores"][1].children[0].value != before
    lead.filters["specialty"].value = "__all__"


def test_filters_select_rows(national):
    national.tabs.selected_index = TABS.index("Reviews")  # the cheapest tab to redraw
    f = national.filters
    months = [v for _, v in f["start_month"].options]
    f["start_month"].value, f["end_month"].value = months[3], months[5]
    assert national.reviews["death_month"].between(months[3], months[5]).all()
    f["admission_type"].value = "elective"
    assert set(national.reviews["admission_type"]) <= {"elective"}
    f["review_reason"].value = "family_concern"
    assert national.reviews["review_reasons"].str.contains("family_concern").all()
    national.tabs.selected_index = TABS.index("Learning from Deaths")
    assert "clear the specialty, admission and reason filters" in (
        national.views["Learning from Deaths"][0].value)
    f["admission_type"].value = f["review_reason"].value = "__all__"
    f["start_month"].value, f["end_month"].value = months[0], months[-1]


def test_programme_team_sees_all_organisations_unrounded_without_free_text(national,
                                                                          small_data):
    assert not national.rule.active
    assert set(national.all_reviews["organisation_code"]) == set(
        small_data.organisations["organisation_code"])
    assert national.filters["organisation_code"].options[0] == ("All organisations",
                                                                 "__all__")
    national.tabs.selected_index = TABS.index("Reviews")
    caption, body = national.views["Reviews"]
    assert "Overall judgement" not in body.children[0].value
    assert "explicit judgement text is not shown" in caption.value


def test_a_lead_reads_the_judgements_and_every_tab_draws(lead):
    for i, title in enumerate(TABS):
        lead.tabs.selected_index = i
        caption, body = lead.views[title]
        assert caption.value and body.children, title
    assert "Overall judgement" in lead.views["Reviews"][1].children[0].value
    spc = lead.views["SPC charts"][1].children
    assert any("c-spc-poor-care" in c._dom_classes for c in spc)


def test_reviewers_get_a_clear_refusal(store):
    url, users = store
    widget = explore(user=users.reviewer, db=url)
    assert "Exploration is for organisation leads and the programme team" in (
        widget.children[1].value)
