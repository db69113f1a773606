"""composer.value.Value behaves as the methods `@dataclass(frozen=True)` would write.

Each case builds the same fields twice, once on Value (eq=False, repr=False: the
methods come from the base) and once as a stock frozen dataclass, and compares what a
caller can observe: equality, hashing, repr, immutability, copying and pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from composer.value import Value


@dataclass(frozen=True, eq=False, repr=False)
class Point(Value):
    """Two fields, one with a default."""

    x: int
    label: str = "p"


@dataclass(frozen=True)
class StockPoint:
    """The same fields, with dataclass's own methods."""

    x: int
    label: str = "p"


@dataclass(frozen=True, eq=False, repr=False)
class Point3(Point):
    """A subclass: never equal to its base, as with dataclass."""

    z: int = 0


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class One(Value):
    """One field (attrgetter of one name is not a tuple)."""

    name: str


@dataclass(frozen=True, eq=False, repr=False)
class Nothing(Value):
    """No fields at all."""


@dataclass(frozen=True, eq=False, repr=False)
class Holder(Value):
    """A field that is a list: unhashable, as a stock dataclass holding one is."""

    items: list[int] = field(default_factory=list)


def test_equality_and_hash_follow_the_fields() -> None:
    assert Point(1) == Point(1, "p")
    assert Point(1) != Point(2)
    assert Point(1) != Point(1, "q")
    assert hash(Point(1, "a")) == hash(Point(1, "a"))
    assert {Point(1), Point(1), Point(2)} == {Point(1), Point(2)}
    assert One("a") == One("a") and One("a") != One("b")
    assert len({One("a"), One("a")}) == 1
    assert Nothing() == Nothing() and hash(Nothing()) == hash(Nothing())


def test_other_classes_are_never_equal() -> None:
    assert Point(1) != StockPoint(1)
    assert Point(1) != Point3(1)
    assert Point3(1) != Point(1)
    assert Point(1).__eq__((1, "p")) is NotImplemented


def test_repr_is_the_stock_dataclass_repr() -> None:
    assert repr(Point(1, "it's")) == repr(StockPoint(1, "it's")).replace("StockPoint", "Point")
    assert repr(Point3(1, z=3)) == "Point3(x=1, label='p', z=3)"
    assert repr(One("a")) == "One(name='a')"
    assert repr(Nothing()) == "Nothing()"


def test_values_stay_frozen_and_unhashable_contents_stay_unhashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del Point(1).label  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(Holder([1]))
    with pytest.raises(TypeError):
        hash(StockPoint(1, [1]))  # type: ignore[arg-type]
    assert Holder([1]) == Holder([1])


def test_copies_and_pickles_are_equal() -> None:
    for value in (Point(1), Point3(1, "x", 2), One("a"), Nothing()):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value
    assert dataclasses.replace(Point(1), x=5) == Point(5)
    assert dataclasses.asdict(Point3(1)) == {"x": 1, "label": "p", "z": 0}


def test_the_pipeline_values_compile_no_eq_or_repr_of_their_own() -> None:
    """The point of Value: these classes carry no generated __eq__/__hash__/__repr__."""
    from composer.manifest import Entry
    from composer.pipeline import BuildRequest
    from composer.recipe.model import Directory, Recipe

    for cls in (Entry, BuildRequest, Recipe, Directory):
        assert issubclass(cls, Value)
        assert not {"__eq__", "__hash__", "__repr__"} & set(vars(cls)), cls
