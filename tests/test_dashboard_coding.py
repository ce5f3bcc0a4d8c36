"""The coding dashboard without a browser: the queue, one-click accept/reject, a theme by hand.

Real store (SQLite; the full coding round on PostgreSQL too when configured), real governed
sessions, real widgets, the real suggestion model; the tests press the buttons as the browser
would and read the stored codes back through the governed session.
"""

from __future__ import annotations

import datetime as dt
import shutil

import ipywidgets as w
import pytest
from dashboard_store import add_users, first_stage_values, populate

from data_access import open_session
from sjrlib.dashboards.coding import Coder, coding


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_data):
    """One populated store with users, built once; each test gets its own copy."""
    path = tmp_path_factory.mktemp("coding") / "template.db"
    url = f"sqlite:///{path}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return path, users


@pytest.fixture
def store(template, tmp_path):
    path, users = template
    copy = tmp_path / "sjr.db"
    shutil.copyfile(path, copy)
    return f"sqlite:///{copy}", users


def _coder(url: str, user: str) -> Coder:
    return Coder(open_session(user, url, tool="test"))


def _row(box: w.Box, css: str) -> w.Box:
    found = [c for c in box.children if css in getattr(c, "_dom_classes", ())]
    assert len(found) == 1, f"{css}: {len(found)} rows"
    return found[0]


def _button(row: w.Box, css: str) -> w.Button:
    found = [c for c in row.children if isinstance(c, w.Button) and css in c._dom_classes]
    assert len(found) == 1
    return found[0]


def _codes(url: str, user: str, review_id: str) -> set[tuple]:
    with open_session(user, url, tool="test") as s:
        codes = s.theme_codes(review_id)
    return {(str(r.theme), None if r.phase is None or str(r.phase) == "<NA>" else str(r.phase),
             bool(r.from_suggestion), str(r.coded_by)) for r in codes.itertuples()}


def _code_one_review(url: str, users) -> None:
    """A lead codes the review at the head of the queue: accepts the first suggestion,
    rejects the second, adds a third theme by hand for one phase; then moves on."""
    coder = _coder(url, users.lead)
    assert coder.review_id == coder.queue[0]
    first, total = coder.review_id, coder.total
    assert coder.done == 0 and f"0 of {total:,}</b> submitted reviews coded" in \
        coder.progress.value
    offers = coder.chooser.visible_offers()
    assert len(offers) >= 2, "the synthetic judgements suggest several themes"
    accepted, rejected = offers[0], offers[1]
    _button(_row(coder.chooser.offer_box, f"s-{accepted.theme}-{accepted.phase}"),
            "b-accept").click()
    _button(_row(coder.chooser.offer_box, f"s-{rejected.theme}-{rejected.phase}"),
            "b-reject").click()
    assert {(o.theme, o.phase) for o in coder.chooser.visible_offers()} == \
        {(o.theme, o.phase) for o in offers[2:]}
    hand = next(t.id for t in coder.codebook.active if t.id not in {o.theme for o in offers})
    coder.chooser.add_theme.value = hand
    coder.chooser.add_phase.value = "admission"
    coder.chooser.add_button.click()
    assert coder.chooser.message.value == ""
    assert coder.chooser.add_theme.index == 0 and coder.chooser.add_phase.index == 0  # blanks
    assert _codes(url, users.lead, first) == {
        (accepted.theme, accepted.phase, True, users.lead),
        (hand, "admission", False, users.lead),
    }  # the rejected one and the ones left alone are stored nowhere
    assert coder.done == 1 and f"1 of {total:,}</b>" in coder.progress.value
    assert "1 coded by you" in coder.progress.value

    coder.next_button.click()
    assert coder.review_id is not None and coder.review_id != first
    assert first not in coder.queue
    assert coder.review_id in coder.review_box.children[0].value
    assert _coder(url, users.lead).queue[0] == coder.review_id  # stays out of the queue

    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.lead)
    coded = log[log["action"] == "code_review"]
    assert len(coded) == 2 and coded["scope"].astype(str).str.contains(first).all()
    assert {"reviews", "theme_codes", "codebook"} <= set(log["action"])


def test_a_lead_accepts_rejects_and_adds_by_hand(store):
    url, users = store
    _code_one_review(url, users)


@pytest.mark.postgres
def test_the_same_round_on_each_database(db_url, small_data):
    """The coding round and an action on a fresh store of each kind (PostgreSQL when
    configured)."""
    populate(db_url, small_data)
    users = add_users(db_url, str(small_data.organisations["organisation_code"].iloc[0]))
    _code_one_review(db_url, users)
    _record_an_action(db_url, users)


def test_the_queue_is_the_lead_s_uncoded_submitted_reviews_newest_first(store):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        draft = first_stage_values("DRAFT-01")
        draft["status"] = "draft"
        draft_id, _ = s.save_review(draft)
        coded_by_reviewer, _ = s.save_review(first_stage_values("SUB-01"))
        s.code_review(coded_by_reviewer, "sepsis")  # coded by its reviewer
    coder = _coder(url, users.lead)
    with open_session(users.programme, url, tool="test") as national:
        every = national.reviews()
    ours = every[(every["organisation_code"] == users.organisation)
                 & every["status"].isin(["submitted", "locked"])]
    assert set(coder.queue) == set(ours["review_id"]) - {coded_by_reviewer}
    assert draft_id not in coder.queue  # drafts cannot be coded
    assert coder.total == len(ours) and coder.done == 1
    dates = ours.set_index("review_id").loc[coder.queue, "review_date"]
    assert dates.is_monotonic_decreasing  # the most recent first


def test_a_review_left_uncoded_goes_to_the_back_and_others_codes_are_read_again(store):
    url, users = store
    coder = _coder(url, users.lead)
    first, second, third = coder.queue[:3]
    coder.next_review()  # nothing coded: skipped for now
    assert coder.review_id == second and coder.queue[-1] == first
    assert first not in _codes_ids(url, users)
    with open_session(users.lead, url, tool="test") as other_tab:  # coded elsewhere meanwhile
        other_tab.code_review(third, "medication")
    coder.next_review()
    assert coder.review_id not in (second, third) and third not in coder.queue
    assert coder.done == 1


def _codes_ids(url, users) -> set[str]:
    with open_session(users.lead, url, tool="test") as s:
        return set(s.theme_codes()["review_id"])


def test_a_theme_coded_twice_is_refused_in_words(store):
    url, users = store
    coder = _coder(url, users.lead)
    coder.chooser.add("sepsis", None)
    assert coder.chooser.add("sepsis", None) is False
    assert "already coded" in coder.chooser.message.value
    assert len(_codes(url, users.lead, coder.review_id)) == 1


def test_an_empty_queue_says_so(store):
    url, users = store
    coder = _coder(url, users.lead)
    with open_session(users.lead, url, tool="test") as s:
        for review_id in coder.queue:
            s.code_review(review_id, "good_practice")
    coder.read()
    assert coder.review_id is None and coder.queue == []
    assert "Nothing waiting" in coder.review_box.children[0].value
    assert coder.next_button.disabled
    assert coder.chooser.widget.layout.display == "none"


@pytest.mark.parametrize("who, role", [("reviewer", "reviewer"),
                                       ("programme", "programme team"),
                                       ("researcher", "researcher"), ("nobody", None)])
def test_only_a_lead_may_use_the_page(store, who, role):
    url, users = store
    if who == "researcher":
        with open_session(users.admin, url, tool="test") as admin:
            admin.add_user("res_a", "researcher")
        user = "res_a"
    else:
        user = getattr(users, who, who)
    page = coding(user=user, db=url, keyboard=False)
    assert "sjr-refused" in page._dom_classes
    said = "".join(c.value for c in page.children[1].children)
    assert "Coding unavailable" in said
    if role is None:
        assert "nobody" in said
    else:
        assert "Theme coding is for organisation leads" in said
        assert f"{user} is signed in as {role}." in said
    assert "Traceback" not in said


def test_the_lead_gets_the_page(store):
    url, users = store
    page = coding(user=users.lead, db=url, keyboard=False)
    assert "sjr-coding" in page._dom_classes
    assert f"organisation lead of {users.organisation}" in page.children[2].value


# ----------------------------------------------------------------------------- actions tab
def test_a_lead_records_an_action_with_a_measure_linked_to_the_review_coded(store):
    url, users = store
    _record_an_action(url, users)


def _record_an_action(url: str, users) -> None:
    coder = _coder(url, users.lead)
    assert coder.tabs.get_title(1) == "Actions"
    review_id = coder.review_id
    coder.chooser.add("sepsis", "admission")
    form = coder.actions
    coder.tabs.selected_index = 1
    assert review_id in form.link_review.description
    form.link_review.value = True  # links the review being coded and ticks its themes
    assert form.fields["review_ids"].value == review_id
    assert [t for t, box in form.theme_boxes.items() if box.value] == ["sepsis"]
    f = form.fields
    f["description"].value = "Sepsis screening added to the emergency department triage form"
    f["owner_role"].value = "Sepsis lead"
    f["agreed_on"].value = dt.date(2022, 5, 3)
    f["measure"].value = "theme:sepsis"
    assert form.record() is None  # a measure needs the month the change went in
    assert "Not recorded" in form.message.value
    assert "Month the change went in" in form.message.value  # the label, not change_month
    f["change_month"].value = "2022-06"
    action_id = form.record()
    assert action_id, form.message.value
    assert "Action recorded" in form.message.value
    assert "Sepsis screening added" in form.table.value and "Sepsis lead" in form.table.value
    assert f["description"].value == "" and not form.theme_boxes["sepsis"].value  # cleared

    with open_session(users.lead, url, tool="test") as s:
        stored = s.actions()
    assert len(stored) == 1
    row = stored.iloc[0]
    assert row["id"] == action_id and row["organisation_code"] == users.organisation
    assert row["description"].startswith("Sepsis screening") and row["owner_role"] == "Sepsis lead"
    assert row["status"] == "open" and str(row["agreed_on"]) == "2022-05-03"
    assert row["measure"] == "theme:sepsis" and row["change_month"] == "2022-06"
    assert row["themes"] == "sepsis" and row["review_ids"] == review_id
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.lead, action="actions.record")
    assert len(log) == 1 and action_id in str(log["scope"].iloc[0])


def test_an_action_naming_a_person_is_refused_and_nothing_is_stored(store):
    url, users = store
    form = _coder(url, users.lead).actions
    form.fields["description"].value = "Mr Jones (NHS 943 476 5919) to be told the outcome"
    form.fields["owner_role"].value = "Ward manager"
    assert form.record() is None
    said = form.message.value
    assert "Not recorded" in said and "identifier" in said
    assert "943 476 5919" not in said and "Jones" not in said  # the message names no one
    assert form.fields["description"].value.startswith("Mr Jones")  # kept to be corrected
    with open_session(users.lead, url, tool="test") as s:
        assert s.actions().empty


def test_a_store_without_a_codebook_gets_a_sentence(store):
    from sqlalchemy import create_engine, text

    url, users = store
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM codebook_versions"))
    engine.dispose()
    page = coding(user=users.lead, db=url, keyboard=False)
    assert "sjr-refused" in page._dom_classes
    assert "no codebook in the store; run sjr init-db." in page.children[1].children[1].value
