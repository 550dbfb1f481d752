"""The Gradio chat behind app.py's layout: what each event does (`handlers.ChatHandlers`, the
one module here that uses Gradio, for its updates), the turns as plain data (`views`) and as
HTML (`chat_ui`), the saved conversations, uploads and removals (`backend`), what the page
sends, checked (`requests`), and the page's CSS and scripts (`assets/`, read by
`chat_page`)."""
