"""`documented_as`: a body's JSON Schema taken from documentation-only shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from flotilla.authz.api_auth import documented_as


class Beds(BaseModel):
    kind: Literal["beds"]
    count: int


class Staff(BaseModel):
    kind: Literal["staff"]
    role: str


class Undocumented(BaseModel):
    __get_pydantic_json_schema__ = documented_as(lambda: Beds | Staff)


class Documented(BaseModel):
    """One of two shapes."""

    __get_pydantic_json_schema__ = documented_as(lambda: Beds)


def test_shapes_that_exclude_one_another_are_stated_as_one_of_them():
    schema = Undocumented.model_json_schema()
    assert schema["title"] == "Undocumented" and "description" not in schema
    assert len(schema["oneOf"]) == 2 and "anyOf" not in schema


def test_one_shape_is_stated_as_itself_with_the_models_description():
    schema = Documented.model_json_schema()
    assert schema["description"] == "One of two shapes."
    assert "oneOf" not in schema and schema["properties"]["count"]["type"] == "integer"
