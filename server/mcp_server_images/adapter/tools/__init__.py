"""Tool handlers and everything of a tool call's shape: parameters, results, rendering, costs and jobs."""
