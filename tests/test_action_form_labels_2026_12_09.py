"""The coding dashboard's action form names each field in a refusal by its label on the form.

Before: a lead who typed a name into the action and "ten" as the target read "Not recorded.
description contains what looks like an identifier ...; target must be a percentage ...": two
of the form's boxes named by their store columns ("description" is the box labelled Action),
while 'Month the change went in' beside them was named by its label. Found walking through
the README's organisation lead (make demo, make serve, coding.ipynb, Actions tab) in Chromium.
"""

from __future__ import annotations

import shutil

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.coding import Coder


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_data):
    path = tmp_path_factory.mktemp("action-labels") / "template.db"
    url = f"sqlite:///{path}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return path, users


@pytest.fixture
def form(template, tmp_path):
    path, users = template
    copy = tmp_path / "sjr.db"
    shutil.copyfile(path, copy)
    return Coder(open_session(users.lead, f"sqlite:///{copy}", tool="test")).actions


def test_a_refusal_names_the_action_and_target_boxes_by_their_labels(form):
    f = form.fields
    f["description"].value = "Sepsis screening added to the triage form for Mr Smith"
    f["owner_role"].value = "Sepsis lead"
    f["measure"].value = "theme:sepsis"
    f["change_month"].value = "2025-13"
    f["target"].value = "ten"
    assert form.record() is None
    said = form.message.value
    assert "Not recorded" in said
    assert "&#x27;Action&#x27; contains what looks like an identifier" in said
    assert "&#x27;Target (%)&#x27; must be a percentage between 0 and 100" in said
    assert "&#x27;Month the change went in&#x27; must be a month" in said
    assert "description" not in said and "target must" not in said
    assert "describe the change" in said  # the advice's own words are left alone


def test_an_empty_action_is_required_by_its_label(form):
    form.fields["owner_role"].value = "Sepsis lead"
    assert form.record() is None
    assert "&#x27;Action&#x27; is required" in form.message.value
