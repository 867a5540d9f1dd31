"""Use cases, free of MCP and of wire formats: generate, edit, vary, analyze, list, jobs."""
