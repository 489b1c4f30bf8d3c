"""The request-bound protocol class of `signet serve` must reach every `--workers` process:
uvicorn pickles its config (the class included) into each spawned worker, so the class of
each pair of bounds is found again by its name, with the same bounds."""

from __future__ import annotations

import pickle

import pytest

import app.server.http_protocol as http_protocol
from app.server.http_protocol import bounded_protocol, head_limit


def test_the_class_pickles_by_name_and_keeps_its_bounds() -> None:
    cls = bounded_protocol(4096, 1.5)
    assert pickle.loads(pickle.dumps(cls)) is cls  # noqa: S301 - our own bytes
    assert cls.max_head_bytes == head_limit(4096) and cls.read_timeout == 1.5
    assert bounded_protocol(4096, 1.5) is cls and bounded_protocol(4096, 2.0) is not cls


def test_unpickling_rebuilds_the_bounds_where_the_class_was_never_made() -> None:
    """As in a spawned worker, where nothing made the class before the config is unpickled
    (emptied cache: the module attribute does not exist until asked for by name)."""
    blob = pickle.dumps(bounded_protocol(2048, 0.25))
    http_protocol._bounded.cache_clear()
    cls = pickle.loads(blob)  # noqa: S301 - our own bytes
    assert cls.__name__ == "BoundedHttpToolsProtocol_2048_250ms"
    assert cls.max_head_bytes == head_limit(2048) and cls.read_timeout == 0.25
    assert issubclass(cls, http_protocol.BoundedHttpToolsProtocol)


@pytest.mark.parametrize("name", ["BoundedHttpToolsProtocol_x_1ms", "Other", "BoundedHttpToolsProtocol_1_1"])
def test_other_names_are_not_attributes(name: str) -> None:
    with pytest.raises(AttributeError):
        getattr(http_protocol, name)
