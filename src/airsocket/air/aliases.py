"""The ActionScript spellings of the AIR API, generated from one table.

Code ported from ActionScript can keep ``ws.addEventListener(...)`` and
``e.stringData``: each alias is the very same method, property or slot as
its snake_case name, installed on the class by :func:`install`, so there is
one implementation and ``help()`` shows one docstring. Python code should use
the snake_case names, which type checkers know.
"""

from __future__ import annotations

import inspect

from .dispatcher import EventDispatcher
from .events import ErrorEvent, Event, WebSocketEvent
from .server_socket import ServerSocket
from .websocket import WebSocket

__all__ = ["ALIASES", "install"]

#: For each class: ActionScript name -> snake_case name. Subclasses inherit.
ALIASES: dict[type, dict[str, str]] = {
    EventDispatcher: {
        "addEventListener": "add_event_listener",
        "removeEventListener": "remove_event_listener",
        "dispatchEvent": "dispatch_event",
        "hasEventListener": "has_event_listener",
        "willTrigger": "will_trigger",
    },
    Event: {
        "preventDefault": "prevent_default",
        "isDefaultPrevented": "is_default_prevented",
        "currentTarget": "current_target",
    },
    WebSocketEvent: {"stringData": "string_data"},
    ErrorEvent: {"errorID": "error_id"},
    WebSocket: {
        "startServer": "start_server",
        "sendMessage": "send_message",
        "closeReason": "close_reason",
    },
    ServerSocket: {"localPort": "local_port", "localAddress": "local_address"},
}


def install(table: dict[type, dict[str, str]] = ALIASES) -> None:
    """Set each alias of ``table`` on its class to the descriptor of its target name.

    Methods, properties and ``__slots__`` members are descriptors, so the
    alias reads, writes and calls exactly what the snake_case name does.

    Raises:
        AttributeError: a target name does not exist on its class.
    """
    for cls, aliases in table.items():
        for alias, name in aliases.items():
            descriptor = inspect.getattr_static(cls, name)
            setattr(cls, alias, descriptor)


install()
