"""The AIR ``EventDispatcher``: typed listeners with priorities and weak references.

A flat object has no display list, so there is no capture or bubbling phase:
``dispatch_event`` runs the listeners registered on the dispatcher itself.
ActionScript runs capture listeners only while an event travels down to its
target, never at the target, so listeners added with ``use_capture=True``
are kept (``has_event_listener`` reports them, ``remove_event_listener``
removes them) but never called here, as in AIR for a non-display object.
"""

from __future__ import annotations

import asyncio
import bisect
import inspect
import weakref
from collections.abc import Callable
from typing import Any

from ..logs import logger
from ..protocol.exceptions import ArgumentError
from . import runtime
from .events import Event

__all__ = ["EventDispatcher", "Listener"]


#: A listener: ``f(event)``, or ``async def f(event)`` (run as a task).
Listener = Callable[[Any], Any]


class _Registration:
    """One listener of one type: how to reach it, and its priority."""

    __slots__ = ("get", "priority", "use_capture")

    def __init__(
        self, get: Callable[[], Listener | None], priority: int, use_capture: bool
    ) -> None:
        self.get = get
        self.priority = priority
        self.use_capture = use_capture


def _reference(listener: Listener, weak: bool) -> Callable[[], Listener | None]:
    """A callable returning ``listener``, or None once a weak one is collected."""
    if not weak:
        return lambda: listener
    # A bound method is a new object at each access: refer to its object
    # (and function) instead, or the reference would die at once.
    owner = getattr(listener, "__self__", None)
    try:
        if inspect.ismethod(listener):
            return weakref.WeakMethod(listener)
        if inspect.isbuiltin(listener) and owner is not None and not inspect.ismodule(owner):
            return _weak_builtin_method(weakref.ref(owner), listener.__name__)
        return weakref.ref(listener)
    except TypeError:
        # Objects without weak reference support (a list's append...) are held.
        return lambda: listener


def _weak_builtin_method(owner: weakref.ref[Any], name: str) -> Callable[[], Listener | None]:
    def get() -> Listener | None:
        target = owner()
        return None if target is None else getattr(target, name)

    return get


def _descending_priority(registration: _Registration) -> int:
    return -registration.priority


class EventDispatcher:
    """Registers listeners by event type and dispatches events to them.

    Higher priorities run first and equal priorities in registration order.
    Listeners added or removed while an event is being dispatched take
    effect from the next dispatch. An exception raised by a listener is
    logged (logger ``"airsocket"``) and the next listener runs. A coroutine
    listener is scheduled as a task on the running event loop, so it runs
    after ``dispatch_event`` returns: call :meth:`Event.prevent_default` from a
    plain function.
    """

    def __init__(self) -> None:
        self._listeners: dict[str, list[_Registration]] = {}

    def add_event_listener(
        self,
        type: str,
        listener: Listener,
        use_capture: bool = False,
        priority: int = 0,
        use_weak_reference: bool = False,
    ) -> None:
        """Call ``listener(event)`` for each event of ``type`` dispatched here.

        Adding a listener already registered for ``type`` and ``use_capture``
        does nothing (its priority stays as it was).

        Args:
            type: the event type, e.g. ``"connect"`` or ``WebSocketEvent.DATA``.
            listener: a function or coroutine function taking the event.
            use_capture: register for the capture phase, which a flat object
                never has (see the module docstring).
            priority: higher runs first; equal priorities in registration order.
            use_weak_reference: hold the listener weakly, so that registering
                does not keep it (or the object of a bound method) alive.

        Raises:
            ArgumentError: ``type`` is not a str or ``listener`` not callable.
        """
        _check(type, listener)
        if not isinstance(priority, int):
            raise ArgumentError(f"priority must be an int, not {priority.__class__.__name__}")
        registrations = self._listeners.get(type, [])
        if self._find(registrations, listener, use_capture) >= 0:
            return
        registration = _Registration(
            _reference(listener, use_weak_reference), priority, bool(use_capture)
        )
        # A new list: a dispatch in progress keeps iterating over the old one.
        registrations = list(registrations)
        bisect.insort_right(registrations, registration, key=_descending_priority)
        self._listeners[type] = registrations

    def remove_event_listener(
        self, type: str, listener: Listener, use_capture: bool = False
    ) -> None:
        """Stop calling ``listener`` for ``type`` (a no-op if it is not registered).

        Args:
            type: the event type.
            listener: the listener given to :meth:`add_event_listener`.
            use_capture: as given when it was added.
        """
        registrations = self._listeners.get(type)
        if registrations is None:
            return
        index = self._find(registrations, listener, use_capture)
        if index >= 0:
            # A new list: a dispatch in progress keeps iterating over the old one.
            self._listeners[type] = registrations[:index] + registrations[index + 1 :]

    def dispatch_event(self, event: Event) -> bool:
        """Set ``event.target`` to this object and call the listeners of its type.

        Args:
            event: the event to dispatch.

        Returns:
            False if a listener called ``event.prevent_default()``, else True.

        Raises:
            ArgumentError: ``event`` is not an :class:`airsocket.Event`.
        """
        if not isinstance(event, Event):
            raise ArgumentError(f"dispatch_event takes an Event, not {event.__class__.__name__}")
        event.target = self
        event.current_target = self
        registrations = self._listeners.get(event.type)
        if registrations:
            for registration in registrations:
                if registration.use_capture:
                    continue
                listener = registration.get()
                if listener is not None:
                    self._call(listener, event)
        return not event.is_default_prevented()

    def has_event_listener(self, type: str) -> bool:
        """Whether a listener (of either phase) is registered here for ``type``."""
        registrations = self._listeners.get(type)
        if not registrations:
            return False
        alive = [registration for registration in registrations if registration.get() is not None]
        if len(alive) != len(registrations):
            self._listeners[type] = alive  # forget weak listeners that were collected
        return bool(alive)

    def will_trigger(self, type: str) -> bool:
        """Whether dispatching ``type`` could reach a listener: here, :meth:`has_event_listener`.

        A flat object has no ancestors whose listeners could be reached.
        """
        return self.has_event_listener(type)

    @staticmethod
    def _find(registrations: list[_Registration], listener: Listener, use_capture: bool) -> int:
        for index, registration in enumerate(registrations):
            # == rather than is: each access to a bound method makes a new one.
            if registration.use_capture == bool(use_capture) and registration.get() == listener:
                return index
        return -1

    def _call(self, listener: Listener, event: Event) -> None:
        try:
            result = listener(event)
        except Exception:
            logger.exception("a listener of %r failed", event.type)
            return
        if inspect.iscoroutine(result):
            _schedule(result, event.type)


def _check(type: object, listener: object) -> None:
    if not isinstance(type, str):
        raise ArgumentError(f"the event type must be a str, not {type.__class__.__name__}")
    if not callable(listener):
        raise ArgumentError(f"the listener must be callable, not {listener.__class__.__name__}")


def _schedule(coroutine: Any, event_type: str) -> None:
    """Run a coroutine listener as a task that keeps ``airsocket.run`` going."""
    try:
        task = asyncio.get_running_loop().create_task(coroutine)
    except RuntimeError:
        coroutine.close()
        logger.error("a coroutine listener of %r needs a running event loop", event_type)
        return
    runtime.track(task, task.cancel)

    def done(task: asyncio.Task[Any]) -> None:
        runtime.untrack(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a listener of %r failed", event_type, exc_info=task.exception())

    task.add_done_callback(done)
