"""The open-file limit ``python app.py`` asks for, so that ``server.connection_limit``
connections fit (what the limits do to a real server: tests/security/test_connections_live.py)."""

from __future__ import annotations

import logging
import resource

import pytest

import serving

UNLIMITED = resource.RLIM_INFINITY


class Limits:
    """A stand-in for the process's RLIMIT_NOFILE; ``refuse`` makes raising it fail."""

    def __init__(self, soft, hard, refuse=False):
        self.soft, self.hard, self.refuse = soft, hard, refuse

    def get(self, which):
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def set(self, which, limits):
        assert which == resource.RLIMIT_NOFILE and limits[1] == self.hard
        if self.refuse:
            raise ValueError("not allowed")
        self.soft = limits[0]


@pytest.fixture
def limits(monkeypatch):
    def install(soft, hard, refuse=False):
        fake = Limits(soft, hard, refuse)
        monkeypatch.setattr(resource, "getrlimit", fake.get)
        monkeypatch.setattr(resource, "setrlimit", fake.set)
        return fake

    return install


@pytest.mark.parametrize(
    "soft, hard, raised",
    [
        (1024, 524288, 2128),  # room for two descriptors a connection, and the reserve
        (1024, 1500, 1500),  # as far as the hard limit goes
        (4096, 524288, 4096),  # enough already: left alone
        (1024, UNLIMITED, 2128),
    ],
)
def test_the_soft_limit_is_raised_to_fit_the_connections(limits, soft, hard, raised):
    fake = limits(soft, hard)
    assert serving.open_files_for(1000) == 1000
    assert fake.soft == raised


@pytest.mark.parametrize("hard, refuse", [(1024, False), (524288, True)])
def test_too_few_files_keep_fewer_connections_and_say_so(limits, caplog, hard, refuse):
    fake = limits(1024, hard, refuse)
    with caplog.at_level(logging.WARNING, logger="roster"):
        kept = serving.open_files_for(1000)
    assert kept == 1024 - serving.RESERVED_FILES
    assert fake.soft == 1024
    assert "lowered from 1000 to 896" in caplog.text and "ulimit -n" in caplog.text
