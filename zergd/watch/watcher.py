"""File events for the live archive, from watchfiles.

watchfiles gives up on a whole tree when one folder in it cannot be read
(and on a whole batch of events when one file name is not valid UTF-8).  So:

- the roots are watched recursively only where every folder below can be
  read; around a folder that cannot, each readable sibling subtree is
  watched recursively and its ancestors on their own (a second watcher,
  non-recursive), so live tailing goes on everywhere else;
- when the watcher fails anyway, the events it dropped are caught at once by
  a rescan (one stat per file), not 120 seconds later.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import watchfiles

from ..archive import TOOL_RESULTS

log = logging.getLogger("zergd.watch")


def undecodable(name: str) -> bool:
    """A name that is not valid UTF-8 (os.walk gives it with surrogates)."""
    return any("\udc80" <= c <= "\udcff" for c in name)


def blocked_dirs(root: Path) -> tuple[set[Path], set[Path]]:
    """(folders that cannot be read, folders holding a name that is not
    UTF-8): watchfiles fails on a whole batch of events, every time, when
    one of them names such a file, so those folders are not watched as such."""
    bad: set[Path] = set()
    odd: set[Path] = set()
    for dirpath, dirs, files in os.walk(root, onerror=lambda e: bad.add(Path(e.filename))):
        if any(undecodable(n) for n in dirs + files):
            odd.add(Path(dirpath))
        dirs[:] = [d for d in dirs if not undecodable(d)]
    return bad, odd


def watch_targets(roots, undecodable: bool = False) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(folders to watch recursively, folders and files to watch on their
    own) for ``roots`` (config.SourceRoot).  Around a folder that cannot be
    read, each readable sibling subtree is watched recursively and its
    ancestors on their own; a folder holding a name that is not UTF-8 has
    its other files watched one by one (new ones there are found by the
    rescan; only once such a name made a watcher fail, ``undecodable``:
    until then nothing is lost by watching it whole).  A root that is one
    file (a prompt history) is that file, watched with the folders."""
    recursive: list[Path] = []
    alone: list[Path] = []
    for root in roots:
        if root.only:  # the file itself, with the others (no second watcher for it)
            recursive.append(root.scope)
            continue
        unreadable, odd = blocked_dirs(root.path)
        _cover(root.path, unreadable, odd if undecodable else set(), recursive, alone)
    return tuple(recursive), tuple(alone)


def _cover(folder: Path, unreadable: set[Path], odd: set[Path], recursive: list[Path], alone: list[Path]) -> None:
    if folder in unreadable:
        return
    if not any(folder == b or folder in b.parents for b in unreadable | odd):
        recursive.append(folder)
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    if folder in odd:
        alone.extend(Path(e.path) for e in entries if not undecodable(e.name) and wanted(e.path)
                     and e.is_file(follow_symlinks=False))
    else:
        alone.append(folder)
    for e in entries:
        if not undecodable(e.name) and e.is_dir(follow_symlinks=False):
            _cover(Path(e.path), unreadable, odd, recursive, alone)


def only_transcripts(change, path: str) -> bool:
    # New folders too: files written into a folder before its watch was set
    # up (a new project's first session) have no event of their own.
    return wanted(path) or change == watchfiles.Change.added


SUFFIXES = (".jsonl", ".meta.json", ".jsonl.zst")
TOOL_RESULTS_FOLDER = f"{os.sep}{TOOL_RESULTS}{os.sep}"


def wanted(path: str) -> bool:
    """A transcript, a subagent sidecar or a tool result (sources.py and sidecars.py decide which)."""
    return path.endswith(SUFFIXES) or TOOL_RESULTS_FOLDER in path


class Watcher:
    """Runs until ``stop`` is set; calls ``on_path`` for each changed file and
    ``on_lost_events`` when events may have been dropped: when a watcher
    fails, and once each watcher is up (what changed while none was, or
    before the first, is found by that rescan, not the next periodic one)."""

    # How long a new watcher waits before saying it is up (its first, empty, yield).
    UP_AFTER_MS = 300

    def __init__(self, on_path, on_lost_events):
        self.on_path = on_path
        self.on_lost_events = on_lost_events
        self.targets: tuple[tuple[Path, ...], tuple[Path, ...]] = ((), ())
        self.owed = False  # a rescan, once the watcher being started is up
        # A name that is not UTF-8 made a watcher fail: from then on, folders
        # holding such names are watched file by file (watch_targets).
        self.undecodable = False

    def run(self, targets, stop: threading.Event) -> None:
        """Watch ``targets`` (from ``watch_targets``) until ``stop`` is set or the watcher fails."""
        self.targets = targets
        self.owed = True
        recursive, alone = targets
        helper = None
        if alone:
            helper = threading.Thread(target=self._watch, args=(alone, False, stop), name="zergd-watch-alone",
                                      daemon=True)
            helper.start()
        if recursive:
            self._watch(recursive, True, stop)
        else:
            stop.wait()
        stop.set()  # one of the two failed: restart both on fresh targets
        if helper:
            helper.join()

    def _scan_new_folder(self, folder: str) -> None:
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if wanted(os.path.join(dirpath, name)):
                    self.on_path(Path(dirpath, name))

    def _watch(self, paths, recursive: bool, stop: threading.Event) -> None:
        try:
            # watchfiles polls for events and the stop flag every ``step`` ms:
            # 25 ms keeps append->searchable well under 100 ms at ~0 idle CPU.
            for changes in watchfiles.watch(
                *paths, watch_filter=only_transcripts, debounce=200, step=25, rust_timeout=self.UP_AFTER_MS,
                yield_on_timeout=True, stop_event=stop, raise_interrupt=False, recursive=recursive,
            ):
                if self.owed:  # up: whatever changed while no watcher was, a rescan finds
                    self.owed = False
                    self.on_lost_events()
                for change, name in changes:
                    if wanted(name):
                        self.on_path(Path(name))
                    elif change == watchfiles.Change.added and os.path.isdir(name):
                        self._scan_new_folder(name)
        except Exception as e:  # a folder vanished or became unreadable, a name that is not UTF-8
            log.info("watcher restarting: %s", e)
            self.undecodable = self.undecodable or "decode" in str(e)
            self.on_lost_events()
        finally:
            stop.set()
