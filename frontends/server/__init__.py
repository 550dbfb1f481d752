"""The one server `citeqa serve` runs: the OpenAI-compatible API (/v1), MCP (/mcp and over
stdio), the lock in front of it all, and the Gradio chat mounted on the same port."""
