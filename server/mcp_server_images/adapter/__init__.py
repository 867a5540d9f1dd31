"""The only code that imports `mcp`: tool handlers, parameter types, rendering, resources and HTTP serving."""
