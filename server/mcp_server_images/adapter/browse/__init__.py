"""What a client browses beside the tools: images and usage as resources, prompts, completions."""
