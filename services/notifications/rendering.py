"""Messages rendered from Jinja2 templates: first line is the subject, the rest the body."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.thai import format_date_en, format_datetime_th

_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(template: str, **context) -> tuple[str, str]:
    due = context.get("due_at")
    if due is not None:
        context.setdefault("due_th", format_datetime_th(due, digits="arabic"))
        context.setdefault("due_en", format_date_en(due))
    text = _env.get_template(f"{template}.txt.j2").render(**context)
    subject, _, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")
