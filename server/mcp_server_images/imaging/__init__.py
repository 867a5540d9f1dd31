"""Pixel work with Pillow: probing, previews, conversions and masks. Nothing here knows MCP or the API."""
