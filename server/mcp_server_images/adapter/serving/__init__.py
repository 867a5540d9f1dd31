"""Serving the MCP server: streamable HTTP with sign-in and image links, and stdio."""
