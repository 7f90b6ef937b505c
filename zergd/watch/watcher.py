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


def unreadable_dirs(root: Path) -> set[Path]:
    bad: set[Path] = set()
    for _ in os.walk(root, onerror=lambda e: bad.add(Path(e.filename))):
        pass
    return bad


def watch_targets(roots) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(folders to watch recursively, folders to watch on their own) for
    ``roots`` (config.SourceRoot); a root that is one file (a prompt
    history) has its folder watched on its own."""
    recursive: list[Path] = []
    alone: list[Path] = []
    for root in roots:
        if root.only:
            if root.path not in alone:
                alone.append(root.path)
            continue
        blocked = unreadable_dirs(root.path)
        _cover(root.path, blocked, recursive, alone)
    return tuple(recursive), tuple(alone)


def _cover(folder: Path, blocked: set[Path], recursive: list[Path], alone: list[Path]) -> None:
    if folder in blocked:
        return
    if not any(folder in b.parents for b in blocked):
        recursive.append(folder)
        return
    alone.append(folder)
    try:
        children = sorted(e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
    except OSError:
        return
    for child in children:
        _cover(Path(child), blocked, recursive, alone)


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
    ``on_lost_events`` when events may have been dropped."""

    def __init__(self, on_path, on_lost_events):
        self.on_path = on_path
        self.on_lost_events = on_lost_events
        self.targets: tuple[tuple[Path, ...], tuple[Path, ...]] = ((), ())

    def run(self, targets, stop: threading.Event) -> None:
        """Watch ``targets`` (from ``watch_targets``) until ``stop`` is set or the watcher fails."""
        self.targets = targets
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
                *paths, watch_filter=only_transcripts, debounce=200, step=25, rust_timeout=0,
                stop_event=stop, raise_interrupt=False, recursive=recursive,
            ):
                for change, name in changes:
                    if wanted(name):
                        self.on_path(Path(name))
                    elif change == watchfiles.Change.added and os.path.isdir(name):
                        self._scan_new_folder(name)
        except Exception as e:  # a folder vanished or became unreadable, a name that is not UTF-8
            log.info("watcher restarting: %s", e)
            self.on_lost_events()
        finally:
            stop.set()
