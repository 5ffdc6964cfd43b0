"""Interoperability tests: airsocket against other WebSocket implementations."""
