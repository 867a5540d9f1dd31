"""OpenAI-compatible HTTP API access. Nothing outside this package builds a URL or parses an error body.

Images come from three APIs behind one seam (`base.ImageBackend`): the Images API, chat-completions image output
and the Responses API's image_generation tool. Vision (`chat.ChatAPI.describe`) is Chat Completions as well.
Callers import from the module that holds what they need, so that importing one (the redactor, at start-up) does
not load them all.
"""
