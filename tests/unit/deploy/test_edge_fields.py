"""Tests for deploy.stack.request_fields: the accepted JSON keys read from the descriptor set."""

from __future__ import annotations

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from deploy.codegen import DESCRIPTOR_SET
from deploy.stack import envoy
from deploy.stack.request_fields import (
    BodyRoute,
    FieldCheck,
    RequestFields,
    lua_table,
    path_pattern,
    path_variables,
    request_fields,
    to_lua,
)
from deploy.stack.request_fields import load as load_descriptors

Field = descriptor_pb2.FieldDescriptorProto


@pytest.fixture(scope="module")
def ours() -> RequestFields:
    return request_fields(load_descriptors(DESCRIPTOR_SET), envoy.TRANSCODED_SERVICES)


def _route(fields: RequestFields, method: str, template: str) -> BodyRoute:
    return next(r for r in fields.routes if (r.method, r.template) == (method, template))


def test_every_http_binding_of_our_services_is_a_route(ours: RequestFields) -> None:
    bindings = {(r.method, r.template, r.rpc) for r in ours.routes}
    assert ("POST", "/v1/ads:serve", "/adplatform.v1.AdServer/ServeAd") in bindings
    assert ("GET", "/ad/user/{user_id}/serve", "/adplatform.v1.AdServer/ServeAd") in bindings
    assert (
        "POST",
        "/ad/{request_id}/feedback",
        "/adplatform.v1.FeedbackService/SubmitFeedback",
    ) in bindings
    assert ("POST", "/v1/campaigns", "/adplatform.v1.CampaignService/CreateCampaign") in bindings


def test_star_body_is_the_request_and_a_named_body_is_its_field(ours: RequestFields) -> None:
    serve = _route(ours, "POST", "/v1/ads:serve")
    assert serve.body == FieldCheck(message="adplatform.v1.ServeAdRequest")
    create = _route(ours, "POST", "/v1/campaigns")
    assert create.request == "adplatform.v1.CreateCampaignRequest"
    assert create.body == FieldCheck(message="adplatform.v1.Campaign")


def test_get_routes_check_only_the_query(ours: RequestFields) -> None:
    listing = _route(ours, "GET", "/v1/campaigns")
    assert listing.body is None
    assert "page_size" in ours.messages[listing.request]


def test_both_json_spellings_of_a_field_are_accepted(ours: RequestFields) -> None:
    request = ours.messages["adplatform.v1.ServeAdRequest"]
    assert {"user_id", "userId", "device_type", "deviceType", "city"} <= set(request)
    assert "citty" not in request


def test_nested_messages_are_checked_and_well_known_types_are_not(ours: RequestFields) -> None:
    campaign = ours.messages["adplatform.v1.Campaign"]
    assert campaign["target_age_range"] == FieldCheck(message="adplatform.v1.AgeRange")
    assert set(ours.messages["adplatform.v1.AgeRange"]) == {"start", "end"}
    assert campaign["created_at"] == FieldCheck()  # a Timestamp is a string in JSON
    assert campaign["keywords"] == FieldCheck()
    assert not any(name.startswith("google.protobuf.") for name in ours.messages)


def test_most_literal_template_comes_first(ours: RequestFields) -> None:
    posts = [r.template for r in ours.routes if r.method == "POST"]
    assert posts.index("/v1/campaigns/{campaign_id}:stop") < posts.index("/v1/campaigns")


def _synthetic() -> descriptor_pb2.FileDescriptorSet:
    """_synthetic is a service with a map, a repeated message, a cycle and a named body."""
    file = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t.v1", syntax="proto3")
    inner = file.message_type.add(name="Inner")
    inner.field.add(name="score", number=1, type=Field.TYPE_INT32, json_name="score")
    inner.field.add(
        name="next_inner", number=2, type=Field.TYPE_MESSAGE, type_name=".t.v1.Inner",
        json_name="nextInner",
    )  # fmt: skip
    outer = file.message_type.add(name="Outer")
    entry = outer.nested_type.add(name="LabelsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=Field.TYPE_STRING)
    entry.field.add(name="value", number=2, type=Field.TYPE_MESSAGE, type_name=".t.v1.Inner")
    outer.field.add(
        name="labels", number=1, type=Field.TYPE_MESSAGE, label=Field.LABEL_REPEATED,
        type_name=".t.v1.Outer.LabelsEntry", json_name="labels",
    )  # fmt: skip
    outer.field.add(
        name="items", number=2, type=Field.TYPE_MESSAGE, label=Field.LABEL_REPEATED,
        type_name=".t.v1.Inner", json_name="items",
    )  # fmt: skip
    request = file.message_type.add(name="PutRequest")
    request.field.add(name="name", number=1, type=Field.TYPE_STRING, json_name="name")
    request.field.add(
        name="outer", number=2, type=Field.TYPE_MESSAGE, type_name=".t.v1.Outer",
        json_name="outer",
    )  # fmt: skip
    service = file.service.add(name="Things")
    method = service.method.add(
        name="Put", input_type=".t.v1.PutRequest", output_type=".t.v1.Outer"
    )
    rule = http_pb2.HttpRule(put="/v1/things/{name=**}", body="outer")
    rule.additional_bindings.add(custom=http_pb2.CustomHttpPattern(kind="HEAD", path="/x"))
    method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    other = file.service.add(name="Others")
    other.method.add(name="Get", input_type=".t.v1.Outer", output_type=".t.v1.Outer")
    return descriptor_pb2.FileDescriptorSet(file=[file])


def test_maps_repeated_messages_and_cycles() -> None:
    fields = request_fields(_synthetic(), ["t.v1.Things"])
    (route,) = fields.routes  # the custom HEAD binding is not one of ours
    assert (route.method, route.template, route.rpc) == (
        "PUT",
        "/v1/things/{name=**}",
        "/t.v1.Things/Put",
    )
    assert route.body == FieldCheck(message="t.v1.Outer")
    outer = fields.messages["t.v1.Outer"]
    assert outer["labels"] == FieldCheck(message="t.v1.Inner", is_map=True)
    assert outer["items"] == FieldCheck(message="t.v1.Inner")
    assert fields.messages["t.v1.Inner"]["nextInner"] == FieldCheck(message="t.v1.Inner")
    assert "t.v1.Outer.LabelsEntry" not in fields.messages


def test_only_the_named_services_are_routes() -> None:
    assert request_fields(_synthetic(), ["t.v1.Others"]).routes == ()


@pytest.mark.parametrize(
    ("template", "pattern"),
    [
        ("/v1/ads:serve", "^/v1/ads:serve$"),
        ("/v1/campaigns/{campaign_id}:stop", "^/v1/campaigns/([^/]+):stop$"),
        ("/ad/user/{user_id}/serve", "^/ad/user/([^/]+)/serve$"),
        ("/v1/things/{name=**}", "^/v1/things/(.+)$"),
        ("/v1/a-b.c/{x=*}/{y}", "^/v1/a%-b%.c/([^/]+)/([^/]+)$"),
    ],
)
def test_path_pattern(template: str, pattern: str) -> None:
    assert path_pattern(template) == pattern


def test_path_variables_are_in_capture_order() -> None:
    assert path_variables("/v1/a/{x=*}/b/{y.z=**}") == ["x", "y.z"]
    assert path_variables("/v1/ads:serve") == []


def test_to_lua_escapes_what_lua_strings_cannot_hold() -> None:
    assert to_lua('a"b\\c') == '"a\\034b\\092c"'
    assert to_lua("é") == '"\\195\\169"'
    assert to_lua({"k": [1, True, None]}) == '{["k"] = {1, true, nil}}'
    with pytest.raises(TypeError):
        to_lua(object())


def test_lua_table_lists_routes_and_messages(ours: RequestFields) -> None:
    table = lua_table(ours)
    assert '["pattern"] = "^/v1/ads:serve$"' in table
    assert '["adplatform.v1.AgeRange"] = {["end"] = {}, ["start"] = {}}' in table
