"""`make bench`: speed and memory figures of the server against the emulator. Never part of pass/fail tests."""
