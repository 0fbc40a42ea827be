"""Per-request work Connexion 3.3 repeats for nothing, done once instead.

``AsyncOperation.fn`` builds a new ``StarletteDecorator`` on every request, and that
decorator re-decorates the handler on every call (``inspect.signature`` included). The
decorated handler depends only on the handler and the app's options (the operation and
request come from context variables at call time), so it is built once per operation.
:func:`install` is idempotent; ``tests/test_speedups.py`` checks the behaviour is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion.apps import asynchronous
from connexion.decorators import StarletteDecorator

_INSTALLED: list[bool] = []


class _OnceDecorator(StarletteDecorator):  # type: ignore[misc]
    """Decorates each handler once; Connexion's own decorates it on every call."""

    _decorated: dict[tuple[Any, ...], Callable[..., Any]] = {}

    def decorate(self, function: Callable[..., Any]) -> Callable[..., Any]:
        key = (function, self.pythonic_params, id(self.jsonifier))
        done = self._decorated.get(key)
        if done is None:
            done = super().decorate(function)
            self._decorated[key] = done
        return done


def _operation_fn(self: Any) -> Callable[..., Any]:
    fn = self.__dict__.get("_relations_fn")
    if fn is None:
        decorator = _OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)
        fn = decorator(self._fn)
        self.__dict__["_relations_fn"] = fn
    return fn  # type: ignore[no-any-return]


def install() -> None:
    """Patch Connexion's ``AsyncOperation`` (once per process)."""
    if _INSTALLED:
        return
    asynchronous.AsyncOperation.fn = property(_operation_fn)
    _INSTALLED.append(True)
