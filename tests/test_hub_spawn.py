"""Who gets what under the hub: data_access.hub.spawn_plan on a governed store (SQLite here;
tests/test_hub.py starts the hub itself on PostgreSQL)."""

from __future__ import annotations

import pytest
from access_setup import build

from data_access import store
from data_access.hub import (
    DASHBOARDS,
    LAB,
    SpawnPlan,
    SpawnRefused,
    person_database_url,
    spawn_plan,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    governed, cleanup = build("sqlite", tmp_path_factory.mktemp("spawn"))
    engine = store.get_engine(governed.owner_url)
    yield engine
    engine.dispose()
    cleanup()


@pytest.mark.parametrize(("name", "interface", "url"), [
    ("lead_a", DASHBOARDS, "/voila/render/explore.ipynb"),
    ("national", DASHBOARDS, "/voila/render/explore.ipynb"),
    ("reviewer_a", DASHBOARDS, "/voila/render/review_entry.ipynb"),
    ("res1", LAB, "/lab/tree/researcher_quickstart.ipynb"),
])
def test_each_role_gets_its_interface(engine, name, interface, url):
    plan = spawn_plan(name, engine)
    assert (plan.username, plan.interface, plan.default_url) == (name, interface, url)


@pytest.mark.parametrize(("name", "why"), [
    ("nobody", "is not a registered SJR user"),
    ("gone", "is disabled"),
    ("admin", "administration is done with `sjr`"),
    ("LEAD_A", "is not a registered SJR user"),  # names are not folded
])
def test_others_are_refused_with_a_reason(engine, name, why):
    with pytest.raises(SpawnRefused, match="Access denied") as refused:
        spawn_plan(name, engine)
    assert why in str(refused.value)


def test_the_database_url_is_the_persons_own():
    plan = SpawnPlan("ann", "organisation_lead", DASHBOARDS, "/x", "sjr_p_ann")
    template = "postgresql+psycopg://{db_role}@db/sjr?application_name={user}"
    assert person_database_url(template, plan) == (
        "postgresql+psycopg://sjr_p_ann@db/sjr?application_name=ann")
    with pytest.raises(SpawnRefused, match="has no database role"):
        person_database_url(template, SpawnPlan("bob", "researcher", LAB, "/y", None))
    assert person_database_url("postgresql+psycopg://{user}@db/sjr",
                               SpawnPlan("bob", "researcher", LAB, "/y", None)) == (
        "postgresql+psycopg://bob@db/sjr")
