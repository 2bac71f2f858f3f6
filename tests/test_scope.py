"""Scopes: which documents a question names, by 文号, title, place (with the administrative hierarchy),
issuer or year; the gazetteer behind the places."""

from __future__ import annotations

import pytest

from assistant.places import gazetteer


@pytest.fixture(scope="module")
def places():
    return gazetteer()


def test_no_place_is_its_own_ancestor(places):
    """jionlp lists 香港, 澳门 and cities without counties under themselves; a walk up must end."""
    for place in places.places.values():
        chain = places.chain(place)
        assert len({p.code for p in chain}) == len(chain) <= 3
        assert chain[-1].code == place.code


def test_places_in_questions_follow_the_hierarchy(places):
    luohu = places.resolve("深圳市罗湖区")
    assert [p.name for p in places.chain(luohu)] == ["广东省", "深圳市", "罗湖区"]
    assert [(p.name, p.level) for p in places.find("深圳南山区有没有OPC补贴？")] == [("深圳市", "city"), ("南山区", "county")]
    assert places.find("香港优质“正”印认证有什么支持？")[0].name == "香港特别行政区"
    assert [p.name for p in places.find("东莞的企业")] == ["东莞市"]


def test_a_county_short_name_that_is_an_ordinary_word_is_not_a_place(places):
    """合作 (合作市), 会同 (会同县) are words of policy text: counted only for a loaded document's place."""
    assert places.find("合作社怎么申请补贴") == []
    assert places.find("国家发展改革委会同有关部门负责") == []
    luohu = places.resolve("深圳市罗湖区")
    assert [p.name for p in places.find("罗湖OPC第五条", known=[luohu])] == ["罗湖区"]
