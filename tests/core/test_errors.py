"""The error family: one base, details as data, picklable across processes."""

from __future__ import annotations

import pickle

import pytest

import headroom_core
from headroom_core.errors import (
    CacheError,
    CompressionError,
    ConfigurationError,
    HeadroomError,
    ProviderError,
    StorageError,
    TokenizationError,
    TransformError,
    ValidationError,
)

FAMILY = [
    CacheError,
    CompressionError,
    ConfigurationError,
    ProviderError,
    StorageError,
    TokenizationError,
    TransformError,
    ValidationError,
]


@pytest.mark.parametrize("error_class", FAMILY)
def test_every_error_is_a_headroom_error_with_details(error_class: type[HeadroomError]) -> None:
    error = error_class("it broke", details={"field": "keep_first", "value": -1})
    assert isinstance(error, HeadroomError)
    assert error.message == "it broke" == str(error)
    assert error.details == {"field": "keep_first", "value": -1}
    with pytest.raises(HeadroomError, match="it broke"):
        raise error


@pytest.mark.parametrize("error_class", [HeadroomError, *FAMILY])
def test_errors_pickle_with_their_details(error_class: type[HeadroomError]) -> None:
    error = error_class("lost in transit?", details={"model": "gpt-4o", "sizes": [1, 2]})
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is error_class
    assert str(restored) == "lost in transit?"
    assert restored.details == error.details


def test_details_default_to_an_empty_dict_and_are_copied() -> None:
    assert HeadroomError("plain").details == {}
    given = {"key": "abc"}
    error = CacheError("missing", details=given)
    given["key"] = "changed"
    assert error.details == {"key": "abc"}


def test_value_errors_can_be_caught_as_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ValidationError, ValueError)
    assert not issubclass(StorageError, ValueError)


def test_the_family_is_exported_at_the_top_level() -> None:
    for error_class in [HeadroomError, *FAMILY]:
        assert getattr(headroom_core, error_class.__name__) is error_class
