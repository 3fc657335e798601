"""Local emulators of the platforms' HTTP APIs, for tests, plugin authors and the demo.

Each one is a real HTTP server on 127.0.0.1 that the real SDK talks to: it records what the
bridge sent, injects residents' events, and enforces documented limits.
"""

from junbridge.testing.emulators.base import Call, Emulator
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.testing.emulators.x import XEmulator

__all__ = ["Call", "Emulator", "SlackEmulator", "TelegramEmulator", "XEmulator"]
