"""The web UI: login and first-run pages (FastAPI + Jinja2) and the Gradio pages."""
