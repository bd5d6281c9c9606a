"""Named backends: how every component is chosen by configuration, the same way.

A component (bus, lake, batch engine, warehouse, stream engine, ...) keeps one
`Registry` in its package `__init__`: backend names → light factories, each registered
with the backend's capabilities and, for an optional backend, the driver it needs and
the extra that installs it. The component's `open_<component>(settings)` is one line.

    MARTS: Registry[Mart, MartCapabilities] = Registry("mart")

    @MARTS.register("sqlite", MartCapabilities(shared=False))
    def _open_sqlite(settings: Settings) -> Mart:
        from bdp.mart.sqlite import SQLiteMart  # the backend's module, imported only now

        return SQLiteMart(settings.paths.home / "mart.sqlite", settings.mart.sqlite)

    @MARTS.register(
        "cassandra", MartCapabilities(shared=True), requires="cassandra", extra="cassandra"
    )
    def _open_cassandra(settings: Settings) -> Mart:
        from bdp.mart.cassandra import CassandraMart

        return CassandraMart(settings.mart.cassandra)

    def open_mart(settings: Settings) -> Mart:
        return MARTS.open(settings.mart.backend, settings)

`bdp/bus/__init__.py` is a real one. Each backend's own settings are a table of their
own (`[mart.cassandra]`), as in `[bus.kafka]`.

What the registry guarantees, so no component writes it again:
- choosing one backend never imports another's module or driver: a factory imports its
  backend when called, never at registration;
- a name nobody registered is an `UnknownNameError` that suggests the closest name;
- a backend whose driver is missing is a `MissingExtraError` naming the extra to install
  (`requires` is checked before the factory runs);
- a backend's capabilities are readable before, and without, opening it
  (`MARTS.capabilities(name)`), so callers branch on what a backend can do, never on
  its name. The backend class reads its own from here too: one declaration.

A component without capabilities of its own registers `None` (`Registry[Thing, None]`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bdp.errors import MissingExtraError, UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")
C = TypeVar("C")
Factory = TypeVar("Factory", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Entry(Generic[T, C]):
    factory: Callable[..., T]
    capabilities: C
    requires: tuple[str, ...]
    extra: str | None


class Registry(Generic[T, C]):
    """Backends of one component by name; `kind` names them in errors ("bus backend")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, _Entry[T, C]] = {}

    def register(
        self,
        name: str,
        capabilities: C,
        *,
        requires: str | tuple[str, ...] = (),
        extra: str | None = None,
    ) -> Callable[[Factory], Factory]:
        """Decorator: register a light factory under `name`. `requires`: modules the
        backend imports that an extra brings (checked before the factory is called);
        `extra`: the `bdp[...]` extra that installs them. Stack it to register one
        factory under several names."""
        modules = (requires,) if isinstance(requires, str) else requires
        if modules and extra is None:
            raise ValueError(f"{self.kind} {name!r}: name the extra that brings {modules}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")

        def add(factory: Factory) -> Factory:
            self._entries[name] = _Entry(factory, capabilities, modules, extra)
            return factory

        return add

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def capabilities(self, name: str) -> C:
        """What the backend `name` can do, without opening it or importing its driver."""
        return self._entry(name).capabilities

    def factory(self, name: str) -> Callable[..., T]:
        """The factory of `name`, once its driver is known to be installed."""
        entry = self._entry(name)
        for module in entry.requires:
            try:
                importlib.import_module(module)
            except ImportError:
                assert entry.extra is not None  # `register` insists on it
                raise MissingExtraError(module, entry.extra) from None
        return entry.factory

    def open(self, name: str, *args: Any, **kwargs: Any) -> T:
        """The backend `name`, built by its factory from the arguments given."""
        return self.factory(name)(*args, **kwargs)

    def _entry(self, name: str) -> _Entry[T, C]:
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(self.kind, name, self.names())
        return entry
