"""The project registry: which projects exist and where each one's data lives.

The registry is a small JSON file, ``<data_dir>/projects.json``, written atomically under a
file lock so that CLI calls and several server workers never see half a file. The default
project ``_`` always exists. A project name is checked against :data:`PROJECT_NAME` before it
is ever used, so it can never become an arbitrary file path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

PROJECT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
DEFAULT_PROJECT = "_"
REGISTRY_FILE = "projects.json"

PublicRole = Literal["read"] | None


@dataclass(frozen=True)
class ProjectInfo:
    """A registered project: its name, optional database URL and public role."""

    name: str
    database_url: str | None = None
    public: PublicRole = None

    def sqlite_path(self, data_dir: Path) -> Path:
        """The SQLite file of a project that has no database URL."""
        if not PROJECT_NAME.match(self.name):  # defence in depth: never a path from input
            raise ValueError(f"invalid project name {self.name!r}")
        return data_dir / f"{self.name}.db"


def valid_name(name: str) -> bool:
    """Whether `name` may name a project."""
    return bool(PROJECT_NAME.match(name))


class Registry:
    """Reads and writes ``projects.json``; re-reads it when another process changed it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / REGISTRY_FILE
        self._stamp: tuple[int, int] | None = None
        self._projects: dict[str, ProjectInfo] = {}

    def get(self, name: str) -> ProjectInfo | None:
        """The project called `name`, or None when nobody registered it."""
        if name == DEFAULT_PROJECT:
            return self._projects.get(name) or self._load().get(name) or ProjectInfo(name)
        found = self._projects.get(name)
        if found is None:
            found = self._load().get(name)
        return found

    def registered(self, name: str) -> bool:
        """Whether `name` was registered (the default project exists without it)."""
        return name in self._load()

    def all(self) -> list[ProjectInfo]:
        """Every project, the default one first."""
        projects = dict(self._load())
        projects.setdefault(DEFAULT_PROJECT, ProjectInfo(DEFAULT_PROJECT))
        return sorted(projects.values(), key=lambda p: (p.name != DEFAULT_PROJECT, p.name))

    def add(self, info: ProjectInfo, *, replace: bool = False) -> bool:
        """Register a project; False when it exists and `replace` is not set."""
        if not valid_name(info.name):
            raise ValueError(f"invalid project name {info.name!r}")
        with self._locked():
            projects = self._read_file()
            if info.name in projects and not replace:
                return False
            projects[info.name] = info
            self._write_file(projects)
        return True

    def add_many(self, infos: list[ProjectInfo]) -> set[str]:
        """Register several projects in one write; returns the names that already existed."""
        for info in infos:
            if not valid_name(info.name):
                raise ValueError(f"invalid project name {info.name!r}")
        with self._locked():
            projects = self._read_file()
            existing = {i.name for i in infos if i.name in projects}
            fresh = {i.name: i for i in infos if i.name not in existing}
            if fresh:
                projects.update(fresh)
                self._write_file(projects)
        return existing

    def _load(self) -> dict[str, ProjectInfo]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return self._projects
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._projects = self._read_file()
            self._stamp = stamp
        return self._projects

    def _read_file(self) -> dict[str, ProjectInfo]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        out: dict[str, ProjectInfo] = {}
        for name, entry in raw.get("projects", {}).items():
            if valid_name(name):
                out[name] = ProjectInfo(
                    name, entry.get("database_url"), entry.get("public")
                )
        return out

    def _write_file(self, projects: dict[str, ProjectInfo]) -> None:
        data = {
            "projects": {
                n: {k: v for k, v in asdict(p).items() if k != "name"}
                for n, p in sorted(projects.items())
            }
        }
        tmp = self.path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".projects.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
