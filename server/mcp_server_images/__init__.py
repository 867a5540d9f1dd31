"""mcp-server-images: image generation, editing, variations and vision for MCP clients."""

__version__ = "0.1.0"
