"""What the tests share, grouped by job; test modules import from here and never from each other.

servers    the server in memory, over stdio and over streamable HTTP, and `open_client`, the one way to a session
results    reading what a user sees: text, image blocks, structuredContent entries, stored images and sidecars
images     small images made on the fly, images stored through the store, masks the emulator received
progress   the progress notifications of a call
upstream   talking to the emulated upstream directly: raw requests and scripted answers
signin     an OAuth issuer and a server that takes its tokens
outside    the Node tools and Chromium that some tests run
s3         SeaweedFS, a real S3-compatible server for the team store
waiting    waiting on a condition, never for a number of seconds
clock      the frozen clock in-process servers run on
s3_clock_bridge   SeaweedFS reached with the real clock when the suite runs with a moved one
registry_schema   the MCP registry's rules for server.json
"""
