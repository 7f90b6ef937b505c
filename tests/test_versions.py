"""Every agent version zergd claims to understand (tests/versions.py) is
read whole: listed, titled, counted and found, with no kind of line it
does not know."""

import pytest
from versions import VERSIONS

from zergd.invariants import check_all


@pytest.mark.parametrize("v", VERSIONS, ids=lambda v: f"{v.agent}-{v.version.split()[0]}")
def test_each_version_is_read_whole(settings, index, v):
    path = settings.agent_dir(v.agent) / v.rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(v.data())
    index.backfill()
    with index.index.reader() as r:
        [s] = r.sessions()[0]
        assert (s["provider"], s["title"], s["user_messages"]) == (v.agent, v.title, v.prompts)
        assert {h.session_id for h in r.search(v.word)} == {s["id"]}
        assert r.drift() == []  # every kind of line in it is known
    assert check_all(index.index) == []


def test_every_agent_has_its_versions():
    from zergd.transcript import NAMES

    assert {v.agent for v in VERSIONS} == set(NAMES)
