"""`python -m mcp_server_images` runs the same entry point as the `mcp-server-images` command."""

from .cli import main

main()
