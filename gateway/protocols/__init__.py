"""One translator per client protocol besides OpenAI chat: its request to the internal chat form,
and the chat answer and stream back (pure, table-tested; see STYLE.md, "Front doors as translators")."""
