"""The MCP App: the image app's HTML and its registration."""
