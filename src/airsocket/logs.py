"""The ``airsocket`` logger and what every I/O layer logs the same way."""

from __future__ import annotations

import logging

__all__ = ["log_handshake_failure", "logger"]

#: Every message of airsocket goes to this logger.
logger = logging.getLogger("airsocket")


def log_handshake_failure(error: BaseException) -> None:
    """Log a failed opening handshake: ours (HTTP 5xx) as an error, else for debugging."""
    if getattr(error, "http_status", 0) >= 500:
        logger.error("%s", error, exc_info=error.__cause__)
    else:
        logger.debug("opening handshake failed: %s", error)
