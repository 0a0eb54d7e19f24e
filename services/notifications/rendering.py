"""Messages rendered from Jinja2 templates (templates/<language>/<name>.txt.j2): the first line
is the subject, the rest the body. Dates print in the recipient's style: Thai with the Buddhist
era and Thai month names ("๓ ก.พ. ๒๕๖๙ ๑๖.๓๐ น." or "3 ก.พ. 2569 16.30 น."), or English."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

from shared.thai import BANGKOK, format_date_en, format_date_th, format_datetime_th

LANGUAGES = ("th", "en")
URGENCY = {"most_urgent": ("ด่วนที่สุด ", "Most urgent: "), "very_urgent": ("ด่วนมาก ", "Very urgent: "),
           "urgent": ("ด่วน ", "Urgent: "), "normal": ("", "")}
SMS_LIMIT = 280        # characters: a few concatenated UCS-2 parts at most
LINE_TEXT_LIMIT = 5000  # LINE text message limit


@pass_context
def _when(context, moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if context.get("language") == "en":
        local = moment.astimezone(BANGKOK)
        return f"{format_date_en(local)} {local:%H:%M}"
    return format_datetime_th(moment, digits=context.get("date_digits", "thai"))


@pass_context
def _day(context, day: date) -> str:
    if context.get("language") == "en":
        return format_date_en(day)
    return format_date_th(day, digits=context.get("date_digits", "thai"))


_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_env.filters["when"] = _when
_env.filters["day"] = _day


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    link: str

    def email(self) -> tuple[str, str]:
        return self.subject, self.body

    def line_text(self) -> str:
        text = f"{self.subject}\n\n{self.body}".strip()
        return text if len(text) <= LINE_TEXT_LIMIT else text[:LINE_TEXT_LIMIT - 1] + "…"

    def sms_text(self) -> str:
        room = SMS_LIMIT - len(self.link) - 1
        subject = self.subject if len(self.subject) <= room else self.subject[:room - 1] + "…"
        return f"{subject} {self.link}"


def render(template: str, *, language: str = "th", date_digits: str = "thai", link: str,
           **context) -> Rendered:
    language = language if language in LANGUAGES else "th"
    urgency = context.pop("urgency", None)
    if urgency is not None:
        context["urgency_th"], context["urgency_en"] = URGENCY.get(urgency, ("", ""))
    text = _env.get_template(f"{language}/{template}.txt.j2").render(
        language=language, date_digits=date_digits, link=link, **context)
    subject, _, body = text.partition("\n")
    return Rendered(subject.strip(), body.lstrip("\n"), link)
