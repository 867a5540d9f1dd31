"""mcp-server-images: image generation, editing, variations and vision for MCP clients."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcp-server-images")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
