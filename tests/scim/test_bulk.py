"""/Bulk over HTTP (RFC 7644 §3.7): references in any order, circles, failOnErrors, limits,
If-Match per operation, each operation atomic and logged as the request it stands for."""

from __future__ import annotations

import pytest

from storage import StoreUnavailable
from tests.conftest import patch_op, stored_text

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def job(*operations: dict, **extra) -> dict:
    return {"schemas": [BULK], "Operations": list(operations), **extra}


def post_user(bulk_id: str, name: str, **attributes) -> dict:
    data = {"schemas": [CORE_USER], "userName": name, **attributes}
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}


def post_group(bulk_id: str, name: str, *members: str) -> dict:
    data = {"schemas": [CORE_GROUP], "displayName": name}
    if members:
        data["members"] = [{"value": m} for m in members]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def run(scim, *operations: dict, **extra) -> list[dict]:
    response = scim.post("/Bulk", job(*operations, **extra))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["Operations"]


def statuses(answers: list[dict]) -> list[str]:
    return [a["status"] for a in answers]


def id_of(answer: dict) -> str:
    return answer["location"].rsplit("/", 1)[1]


def members_of(scim, group_id: str) -> set[str]:
    return {m["value"] for m in scim.get(f"/Groups/{group_id}").get_json().get("members", [])}


def test_references_resolve_whatever_the_order_of_the_operations(scim):
    add_later_user = patch_op({"op": "add", "path": "members", "value": [{"value": "bulkId:late"}]})
    answers = run(
        scim,
        post_group("team", "Team", "bulkId:ann"),
        {"method": "PATCH", "path": "/Groups/bulkId:team", "data": add_later_user},
        post_user("ann", "ann"),
        post_user("late", "late"),
    )
    assert statuses(answers) == ["201", "200", "201", "201"]
    assert [a["method"] for a in answers] == ["POST", "PATCH", "POST", "POST"]
    team, ann, late = id_of(answers[0]), id_of(answers[2]), id_of(answers[3])
    assert id_of(answers[1]) == team
    assert members_of(scim, team) == {ann, late}


def test_a_patch_path_filter_may_name_a_bulk_id(scim):
    remove = patch_op({"op": "remove", "path": 'members[value eq "bulkId:ann"]'})
    answers = run(
        scim,
        post_user("ann", "ann"),
        post_user("bob", "bob"),
        post_group("team", "Team", "bulkId:ann", "bulkId:bob"),
        {"method": "PATCH", "path": "/Groups/bulkId:team", "data": remove},
    )
    assert statuses(answers) == ["201", "201", "201", "200"]
    assert members_of(scim, id_of(answers[2])) == {id_of(answers[1])}


def test_a_circle_whose_other_post_fails_leaves_nothing_behind(scim):
    scim.create_group("Taken")
    answers = run(
        scim, post_group("a", "Group A", "bulkId:b"), post_group("b", "Taken", "bulkId:a")
    )
    assert statuses(answers) == ["409", "409"]
    assert answers[1]["response"]["scimType"] == "uniqueness"
    assert "bulkId:b" in answers[0]["response"]["detail"]
    assert "location" not in answers[0]  # RFC 7644 §3.7.3: a failed POST has none
    listed = scim.get("/Groups").get_json()
    assert [g["displayName"] for g in listed["Resources"]] == ["Taken"]


def test_a_group_naming_itself_is_refused_and_not_created(scim):
    [answer] = run(scim, post_group("self", "Narcissus", "bulkId:self"))
    assert answer["status"] == "400"
    assert answer["response"]["scimType"] == "invalidValue"
    assert "itself" in answer["response"]["detail"]
    assert scim.get("/Groups").get_json()["totalResults"] == 0


def test_a_circle_left_unresolved_when_processing_stops_is_undone(scim):
    answers = run(
        scim,
        post_group("a", "Group A", "bulkId:b"),
        post_user("bad", ""),
        post_group("b", "Group B", "bulkId:a"),
        failOnErrors=1,
    )
    assert statuses(answers) == ["409", "400"]  # Group B was never processed
    assert scim.get("/Groups").get_json()["totalResults"] == 0


def test_unknown_and_failed_bulk_ids_fail_only_their_operations(scim):
    answers = run(
        scim,
        post_user("dup", "ann"),
        post_user("dup2", "ANN"),  # userName is unique case-insensitively
        post_group("team", "Team", "bulkId:dup2"),
        post_group("other", "Other", "bulkId:nowhere"),
        post_group("fine", "Fine", "bulkId:dup"),
    )
    assert statuses(answers) == ["201", "409", "409", "400", "201"]
    assert "bulkId:dup2" in answers[2]["response"]["detail"]
    assert answers[3]["response"]["scimType"] == "invalidValue"
    names = {g["displayName"] for g in scim.get("/Groups").get_json()["Resources"]}
    assert names == {"Fine"}


@pytest.mark.parametrize(
    "operation, status",
    [
        ({"method": "POST", "path": "/Users/x", "bulkId": "a", "data": {}}, "405"),
        ({"method": "PUT", "path": "/Users", "data": {}}, "405"),
        ({"method": "DELETE", "path": "/Widgets/1"}, "404"),
        ({"method": "DELETE", "path": "/users/nobody"}, "404"),  # any case: no such user
        ({"method": "PUT", "path": "/Users/x"}, "400"),
        ({"method": "GET", "path": "/Users/x"}, "400"),
        ({"path": "/Users/x"}, "400"),
        ({"method": "DELETE"}, "400"),
        ({"method": "DELETE", "path": "/Users/x", "version": 7}, "400"),
    ],
)
def test_a_malformed_operation_fails_alone(scim, operation, status):
    answers = run(scim, operation, post_user("ann", "ann"))
    assert statuses(answers) == [status, "201"]
    assert answers[0]["response"]["status"] == status


@pytest.mark.parametrize(
    "sent, answered",
    [("get", "GET"), ("__not_in_enum__", "__NOT_IN_ENUM__"), (5, "5"), (None, "null")],
)
def test_an_operation_refused_for_its_method_is_answered_with_it_as_text(scim, sent, answered):
    # RFC 7644 §3.7.3: every answer has a "method", a string, whatever the client sent.
    answers = run(scim, {"method": sent, "path": "/Users/x"}, post_user("ann", "ann"))
    assert [a["method"] for a in answers] == [answered, "POST"]
    assert answers[0]["response"]["scimType"] == "invalidValue"


@pytest.mark.parametrize(
    "body, scim_type",
    [
        ({"schemas": [BULK]}, "invalidValue"),
        ({"schemas": [BULK], "Operations": []}, "invalidValue"),
        ({"schemas": [BULK], "Operations": ["POST"]}, "invalidSyntax"),
        (job(post_user("a", "ann"), failOnErrors=0), "invalidValue"),
        (job(post_user("a", "ann"), failOnErrors="1"), "invalidValue"),
        (job(post_user("a", "ann"), post_user("a", "bob")), "invalidValue"),
        ({"schemas": ["urn:example:Other"], "Operations": [post_user("a", "ann")]}, "invalidValue"),
    ],
)
def test_a_malformed_request_is_refused_whole(scim, body, scim_type):
    response = scim.post("/Bulk", body)
    assert response.status_code == 400
    assert response.get_json()["scimType"] == scim_type
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_more_operations_than_max_operations_is_413_naming_the_limit(scim, app):
    app.config["ROSTER"]["bulk_max_operations"] = 2
    response = scim.post(
        "/Bulk", job(post_user("a", "a"), post_user("b", "b"), post_user("c", "c"))
    )
    assert response.status_code == 413  # RFC 7644 §3.7.4
    assert "maxOperations is 2" in response.get_json()["detail"]
    assert scim.get("/Users").get_json()["totalResults"] == 0
    advertised = scim.get("/ServiceProviderConfig").get_json()["bulk"]
    assert advertised["maxOperations"] == 2
    assert statuses(run(scim, post_user("a", "a"), post_user("b", "b"))) == ["201", "201"]


def test_version_is_if_match_per_operation(scim):
    ann = scim.create_user("ann")
    stale = ann["meta"]["version"]
    rename = patch_op({"op": "replace", "path": "displayName", "value": "Ann"})
    answers = run(
        scim,
        {"method": "PATCH", "path": f"/Users/{ann['id']}", "version": stale, "data": rename},
        {"method": "PATCH", "path": f"/Users/{ann['id']}", "version": stale, "data": rename},
        {"method": "DELETE", "path": f"/Users/{ann['id']}", "version": stale},
        {"method": "PATCH", "path": f"/Users/{ann['id']}", "version": "*", "data": rename},
    )
    assert statuses(answers) == ["200", "412", "412", "200"]
    assert answers[0]["version"] != stale
    assert "version" not in answers[1]
    assert scim.get(f"/Users/{ann['id']}").headers["ETag"] == answers[3]["version"]


def test_each_operation_is_atomic_on_its_own(scim, store):
    ann = scim.create_user("ann", displayName="Ann")
    before = store.get("User", scim.id, ann["id"])
    half_bad = patch_op(
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "active", "value": "perhaps"},
    )
    answers = run(
        scim,
        {"method": "PATCH", "path": f"/Users/{ann['id']}", "data": half_bad},
        post_user("bob", "bob"),
    )
    assert statuses(answers) == ["400", "201"]
    assert store.get("User", scim.id, ann["id"]) == before


def test_another_idps_resources_are_out_of_reach(scim, other):
    theirs = other.create_user("theirs")
    answers = run(
        scim,
        {"method": "DELETE", "path": f"/Users/{theirs['id']}"},
        post_group("g", "Mine", theirs["id"]),
    )
    assert statuses(answers) == ["404", "400"]
    assert other.get(f"/Users/{theirs['id']}").status_code == 200


def test_a_bulk_request_needs_the_idps_token(scim):
    response = scim.post("/Bulk", job(post_user("a", "ann")), headers={"Authorization": "x"})
    assert response.status_code == 401
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_a_store_outage_ends_the_job(scim, store, monkeypatch):
    create = store.create
    calls = []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise StoreUnavailable("the database went away", retry_after=3)
        return create(*args, **kwargs)

    monkeypatch.setattr(store, "create", failing_second)
    answers = run(scim, post_user("a", "a"), post_user("b", "b"), post_user("c", "c"))
    assert statuses(answers) == ["201", "503"]
    assert len(calls) == 2


def test_each_operation_is_logged_as_the_request_it_stands_for(scim, app):
    from storage import get_request_log

    answers = run(
        scim,
        post_user("ann", "ann"),
        post_user("dup", "ANN"),
        {"method": "DELETE", "path": "/Users/bulkId:ann"},
    )
    ann = id_of(answers[0])
    entries = list(reversed(get_request_log(app).entries(scim.id)))
    base = f"/scim/v2/{scim.id}"
    assert [(e["method"], e["path"], e["status"], e["resource"]) for e in entries] == [
        ("POST", f"{base}/Users", 201, f"User {ann}"),
        ("POST", f"{base}/Users", 409, None),
        ("DELETE", f"{base}/Users/{ann}", 204, f"User {ann}"),
        ("POST", f"{base}/Bulk", 200, None),
    ]
    assert [e.get("bulk") for e in entries] == [True, True, True, None]
    assert entries[1]["scim_type"] == "uniqueness"


def test_passwords_are_hashed_and_never_logged(scim, app):
    app.config["ROSTER"]["log_bodies"] = True
    secret = "correct horse battery staple"
    answers = run(scim, post_user("ann", "ann", password=secret))
    assert statuses(answers) == ["201"]
    assert secret not in stored_text(app)


def test_a_request_whose_writes_cannot_be_made_durable_says_so(scim, store, monkeypatch):
    from contextlib import contextmanager

    @contextmanager
    def failing_batch():
        yield
        raise StoreUnavailable("the journal failed to sync")

    monkeypatch.setattr(store, "batch", failing_batch)
    response = scim.post("/Bulk", job(post_user("a", "ann")))
    assert response.status_code == 503
    assert "may be lost" in response.get_json()["detail"]
    assert response.headers["Retry-After"]


def test_each_operation_records_its_change_events_as_the_single_write_would(scim, store):
    response = scim.post(
        "/Bulk",
        job(post_user("ann", "ann"), post_group("team", "Team", "bulkId:ann")),
        headers={"User-Agent": "bulk-test"},
    )
    assert response.status_code == 200
    ann, team = (id_of(answer) for answer in response.get_json()["Operations"])
    events, _, _ = store.events(0, 100, idp=scim.id)
    sources = {(e["type"], e["source"]["method"], e["source"]["path"]) for e in events}
    base = f"/scim/v2/{scim.id}"
    assert ("user.created", "POST", f"{base}/Users") in sources
    assert ("group.created", "POST", f"{base}/Groups") in sources
    request_id = response.headers["X-Request-Id"]
    assert {e["source"]["request_id"] for e in events} == {request_id}
    assert {e["data"]["id"] for e in events} >= {ann, team}
