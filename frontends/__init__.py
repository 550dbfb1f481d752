"""The front ends, on top of the library (qa/, embeddings/, eval/, citeqa/): the `citeqa`
command line (`cli/`), the HTTP server with its OpenAI-style API and MCP (`server/`), the
Gradio chat's handlers, views and uploads (`web/`; app.py lays them out), the terminal chat
and the LangChain retriever. Nothing in the library imports them (tests/test_layers.py).
"""
