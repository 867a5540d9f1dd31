"""Image references: parse any form, read it safely, hand back checked image bytes.

Callers import from the module that holds what they need (`resolver.ImageResolver`, `fetch.UrlFetcher`), so that
the tools' parameters (which need only `MAX_REFS`) do not load the image decoders.
"""

MAX_REFS = 16
"""The most images one call takes (edit inputs, images to analyze)."""
