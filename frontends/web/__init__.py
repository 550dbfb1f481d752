"""The Gradio chat's parts that need no Gradio: what the chat shows (`chat_ui`), the saved
conversations, uploads and removals (`backend`), the handlers the page's events call, and the
page's CSS and scripts. app.py lays out the components and wires them to these."""
