"""Errors a user can act on. Tools turn them into `isError` results with the message as the text."""

from __future__ import annotations


class ImageServerError(Exception):
    """Base for every error whose message is written for the person (or assistant) calling a tool."""


class ParameterError(ImageServerError):
    """A tool argument the chosen model does not accept; raised before any upstream request."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class ConfigurationError(ImageServerError):
    """The server is missing something only its user can provide, such as an API key."""
