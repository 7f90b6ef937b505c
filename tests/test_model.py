"""Random-action model test, in the spirit of Vector's file-source tests.

Random sequences of append (random sizes, split anywhere, UTF-8 included),
partial lines, truncate, in-place rewrite, delete, recreate, rename, sync and
crash-during-sync run against a source folder.  An independent model records
what each sync saw of every file; after every sync the archive must hold
exactly the model's generations (I1, I2, I5) and the index one row per line
that re-derives from the archive (I3, I4).

A crash is a BaseException raised right after an archive append (the bytes
are fsync'd, the index commit never happens), then the index is reopened,
as after kill -9.  The process-level kill -9 test is in test_daemon.py.
"""

import os
import random

import pytest
from conftest import Index

from zergd.invariants import check_all, check_immutable, snapshot
from zergd.watch import tailer

WORDS = ["alpha", "beta", "gamma", "café", "naïve", "✓ done", "🦀 crab", "日本語", "delta", "x" * 40]
NAMES = ["a.jsonl", "b.jsonl", "c.jsonl"]


class Crash(BaseException):
    """Stands for kill -9: nothing catches it, nothing after it runs."""


def random_lines(rng, n):
    out = b""
    for _ in range(n):
        kind = rng.random()
        if kind < 0.08:
            out += b"not json " + rng.choice(WORDS).encode() + b"\n"
        elif kind < 0.12:
            out += b"\n"
        else:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
            out += ('{"type":"user","message":{"role":"user","content":"%s"}}\n' % text).encode()
    return out


class Model:
    """What each source's generations must hold, from what the syncs saw."""

    def __init__(self):
        self.gens: dict[str, list[bytes]] = {}

    def observe(self, name: str, content: bytes) -> None:
        gens = self.gens.setdefault(name, [])
        if gens and content.startswith(gens[-1]):
            gens[-1] = content
        else:
            gens.append(content)

    def observe_partly(self, name: str, content: bytes, appended: int) -> None:
        """A crash after ``appended`` bytes of this sync reached the archive."""
        gens = self.gens.setdefault(name, [])
        if gens and content.startswith(gens[-1]):
            gens[-1] = content[: len(gens[-1]) + appended]
        elif appended or not gens:
            gens.append(content[:appended])


class World:
    def __init__(self, settings, rng, monkeypatch):
        self.settings = settings
        self.rng = rng
        self.dir = settings.agent_dir("claude") / "projects" / "-model"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index = Index(settings)
        self.model = Model()
        self.mtime = 1_700_000_000_000_000_000
        self.appends: list[tuple[str, int]] = []
        self.crash_after: int | None = None
        real_append = tailer.archive.append

        def append(path, data):
            size = real_append(path, data)
            if data:
                self.appends.append((path.name.split(".jsonl")[0] + ".jsonl", len(data)))
                if self.crash_after is not None and len(self.appends) >= self.crash_after:
                    raise Crash()
            return size

        monkeypatch.setattr(tailer.archive, "append", append)

    def path(self, name):
        return self.dir / name

    def touch(self, path):
        # Unique mtimes: a same-size rewrite within one mtime tick is
        # invisible to any stat-based tailer (and Claude Code only appends).
        self.mtime += 1_000_000
        os.utime(path, ns=(self.mtime, self.mtime))

    def write(self, name, data, mode="ab"):
        with open(self.path(name), mode) as f:
            f.write(data)
        self.touch(self.path(name))

    # --- actions -----------------------------------------------------------

    def act(self):
        rng = self.rng
        name = rng.choice(NAMES)
        path = self.path(name)
        exists = path.exists()
        action = rng.choice(["append"] * 5 + ["partial", "truncate", "rewrite", "delete", "rename", "sync", "sync",
                                              "crash"])
        if action == "append" or (not exists and action in ("partial", "truncate", "rewrite")):
            data = random_lines(rng, rng.randint(1, 6))
            cut = rng.randint(0, len(data))  # written in two writes split anywhere
            self.write(name, data[:cut])
            self.write(name, data[cut:])
        elif action == "partial":
            self.write(name, ('{"type":"user","message":{"role":"user","content":"%s' % rng.choice(WORDS)).encode()[: rng.randint(1, 30)])
        elif action == "truncate":
            size = path.stat().st_size
            with open(path, "r+b") as f:
                f.truncate(rng.randint(0, max(0, size - 1)))
            self.touch(path)
        elif action == "rewrite":
            self.write(name, random_lines(rng, rng.randint(0, 4)), mode="wb")
        elif action == "delete" and exists:
            path.unlink()
        elif action == "rename" and exists:
            target = rng.choice([n for n in NAMES if n != name])
            os.replace(path, self.path(target))
        elif action == "sync":
            self.sync()
        elif action == "crash":
            self.crash_sync()

    def contents(self):
        return {n: self.path(n).read_bytes() for n in sorted(NAMES) if self.path(n).exists()}

    def sync(self):
        before = snapshot(self.settings.archive_dir)
        self.index.backfill()
        for name, content in self.contents().items():
            self.model.observe(name, content)
        assert check_immutable(before, self.settings.archive_dir) == []
        self.check()

    def crash_sync(self):
        self.tailer_chunk()
        self.appends.clear()
        self.crash_after = self.rng.randint(1, 4)
        contents = self.contents()
        try:
            self.index.backfill()
            crashed = False
        except Crash:
            crashed = True
        self.crash_after = None
        appended = {}
        for name, n in self.appends:
            appended[name] = appended.get(name, 0) + n
        last = self.appends[-1][0] if crashed else None
        for name, content in contents.items():
            if crashed and name > last:
                break  # backfill goes in path order: later files were never read
            if crashed and name == last:
                self.model.observe_partly(name, content, appended[name])
            else:
                self.model.observe(name, content)
        # The process died: its connection and uncommitted transaction go with it.
        self.index.conn.close()
        self.index = Index(self.settings)

    def tailer_chunk(self):
        tailer.CHUNK = self.rng.choice([1, 3, 7, 64, 4096, 4 << 20])

    def check(self):
        archive = self.settings.archive_dir / "testhost" / "claude" / "-model"
        for name, gens in self.model.gens.items():
            files = [archive / (name if i == 0 else f"{name}.gen{i + 1}") for i in range(len(gens))]
            got = [f.read_bytes() if f.exists() else None for f in files]
            assert got == gens, f"{name}: archive generations differ from the model"
            assert not (archive / f"{name}.gen{len(gens) + 1}").exists()
        assert check_all(self.index.index) == []


@pytest.mark.parametrize("seed", range(int(os.environ.get("ZERG_MODEL_SEEDS", "24"))))
def test_random_actions_keep_invariants(settings, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(tailer, "CHUNK", tailer.CHUNK)
    world = World(settings, rng, monkeypatch)
    try:
        for _ in range(40):
            world.tailer_chunk()
            world.act()
        world.sync()  # quiet sources: everything is archived and indexed
        for name, content in world.contents().items():
            assert world.model.gens[name][-1] == content
    finally:
        world.index.index.close()
