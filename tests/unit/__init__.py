"""Unit and property tests: plain functions called directly, no MCP client and no emulator."""
