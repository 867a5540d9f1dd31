"""The SDK's bare hello-world server over stdio: the yardstick for the server's cold start."""

from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("bare")


@server.tool()
def hello(name: str) -> str:
    """Say hello."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    server.run()
