"""``thongthin``: the operator's command line.

    thongthin status [--rate-window S]                 services' /health and key metrics, every queue
    thongthin dead-letters list [--limit N] [--queue Q]
    thongthin dead-letters show MESSAGE_ID
    thongthin dead-letters replay MESSAGE_ID... | --all [--queue Q]
    thongthin rebuild reporting [--batch-size N]

Readable tables by default, ``--json`` for scripts (one JSON document on stdout). Configuration
comes from the variables the services read: ``AMQP_URI``, ``<SERVICE>_HTTP_ADDRESS``,
``REPORTING_DATABASE_URL`` (shared/config.py). Exit status: 0 fine, 1 something needs attention
(a service down, dead letters waiting, a work queue without consumer, a replay that failed),
2 bad usage or the broker unreachable. Usage and example output: docs/operations.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime

import amqp
from rich import box
from rich.console import Console
from rich.json import JSON
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from shared.config import amqp_uri, database_url
from shared.thai import BANGKOK

OK, ATTENTION, FAILURE = 0, 1, 2


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M:%S +07")


def _number(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


class Output:
    def __init__(self, as_json: bool):
        self.as_json = as_json
        # Piped into grep or a file: wide lines rather than rich's default of 80 columns.
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
        self.console = Console(highlight=False, width=width)
        self.errors = Console(stderr=True, highlight=False)

    def json(self, document) -> None:
        print(json.dumps(document, ensure_ascii=False, indent=2, default=str))

    def error(self, message: str) -> None:
        self.errors.print(f"[bold red]error:[/] {escape(message)}")


# --------------------------------------------------------------------------- status


def cmd_status(args, out: Output) -> int:
    from ops.status import queue_status, services_status
    services = services_status(timeout=args.timeout, rate_window=args.rate_window)
    try:
        queues = queue_status(args.amqp_uri)
        broker_error = None
    except Exception as exc:  # noqa: BLE001 - report it alongside the services
        queues, broker_error = [], f"{type(exc).__name__}: {exc}"
    problems = [f"{s.service}: {s.health}" for s in services if not s.healthy]
    if broker_error:
        problems.append(f"broker: {broker_error}")
    for q in queues:
        if q.ready is None:
            problems.append(f"queue {q.queue} does not exist")
        elif q.kind == "dead-letter" and q.ready:
            problems.append(f"{q.ready} dead letter(s) in {q.queue}")
        elif q.kind == "work" and not q.consumers:
            problems.append(f"nobody consumes {q.queue}")
    if out.as_json:
        out.json({"services": [s.as_dict() for s in services], "queues": [q.as_dict() for q in queues],
                  "broker_error": broker_error, "problems": problems})
        return ATTENTION if problems else OK

    table = Table(title="Services", box=box.SIMPLE_HEAD, title_justify="left")
    for column, justify in (("service", "left"), ("health", "left"), ("outbox pending", "right"),
                            ("oldest (s)", "right"), ("consumed", "right"), ("consumed/s", "right"),
                            ("published/s", "right"), ("dead-lettered", "right")):
        table.add_column(column, justify=justify)
    for s in services:
        health = "[green]ok[/]" if s.healthy else f"[red]{escape(s.health)}[/]"
        age = _number(s.outbox_oldest_age_s, 1)
        if (s.outbox_oldest_age_s or 0) > 60:
            age = f"[red]{age}[/]"
        consumed = sum(s.consumed.values()) if s.consumed else None
        table.add_row(s.service, health, _number(s.outbox_pending), age, _number(consumed),
                      _number(s.consumed_per_s, 1), _number(s.published_per_s, 1), _number(s.dead_lettered))
    out.console.print(table)

    if broker_error:
        out.console.print(f"[red]broker unreachable at {escape(args.amqp_uri.split('@')[-1])}: {escape(broker_error)}[/]")
    else:
        table = Table(title="Queues", box=box.SIMPLE_HEAD, title_justify="left")
        for column, justify in (("queue", "left"), ("kind", "left"), ("ready", "right"), ("consumers", "right")):
            table.add_column(column, justify=justify)
        for q in queues:
            ready = "[red]missing[/]" if q.ready is None else _number(q.ready)
            if q.kind == "dead-letter" and q.ready:
                ready = f"[bold red]{ready}[/]"
            consumers = _number(q.consumers)
            if q.kind == "work" and not q.consumers:
                consumers = f"[red]{consumers}[/]"
            table.add_row(q.queue, q.kind, ready, consumers)
        out.console.print(table)
    if problems:
        out.console.print("[bold red]needs attention:[/]")
        for problem in problems:
            out.console.print(f"  • {escape(problem)}")
    else:
        out.console.print("[green]all services healthy, no dead letters[/]")
    return ATTENTION if problems else OK


# --------------------------------------------------------------------------- dead letters


def cmd_dead_letters_list(args, out: Output) -> int:
    from ops.deadletters import DeadLetterQueue
    with DeadLetterQueue(args.amqp_uri) as dlq:
        letters, total = dlq.list()
    if args.queue:
        letters = [letter for letter in letters if letter.queue == args.queue]
    if args.limit is not None:
        letters = letters[:args.limit]
    if out.as_json:
        out.json({"total": total, "messages": [letter.summary() for letter in letters]})
        return OK
    if not letters:
        out.console.print(f"[green]no dead letters[/]{' from ' + escape(args.queue) if args.queue else ''} "
                          f"({total} in the queue)")
        return OK
    # Two lines each rather than a table: the ids alone nearly fill an 80-column terminal.
    out.console.print(f"[bold]thongthin.dead_letters: {total} message(s)[/]"
                      + (f", showing {len(letters)}" if len(letters) != total else "") + ", oldest first")
    for letter in letters:
        replays = f" [yellow](replayed {letter.replays}×)[/]" if letter.replays else ""
        out.console.print()
        out.console.print(f"[bold]{escape(letter.message_id or '?')}[/]  {escape(letter.event_type or '?')}"
                          f"  failed in [cyan]{escape(letter.queue or '?')}[/]"
                          f"  [dim]{_when(letter.summary()['failed_at'])}[/]{replays}")
        out.console.print(Padding(Text(letter.reason or "?"), (0, 0, 0, 4)))
    return OK


def cmd_dead_letters_show(args, out: Output) -> int:
    from ops.deadletters import DeadLetterQueue
    with DeadLetterQueue(args.amqp_uri) as dlq:
        letters = dlq.find(args.message_id)
    if not letters:
        if out.as_json:
            out.json([])
        out.error(f"no dead letter with message id {args.message_id}")
        return ATTENTION
    if out.as_json:
        out.json([letter.detail() for letter in letters])
        return OK
    for number, letter in enumerate(letters, 1):
        detail = letter.detail()
        if len(letters) > 1:
            out.console.rule(f"copy {number} of {len(letters)}")
        table = Table(box=box.SIMPLE, show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for label, value in (("message id", letter.message_id), ("event type", letter.event_type),
                             ("original queue", letter.queue), ("reason", letter.reason),
                             ("failed at", _when(detail["failed_at"])), ("replays", str(letter.replays))):
            table.add_row(label, Text(value or "-"))
        out.console.print(table)
        out.console.print("[bold]headers[/]")
        out.console.print(JSON(json.dumps(detail["headers"], ensure_ascii=False, default=str)))
        out.console.print("[bold]properties[/]")
        out.console.print(JSON(json.dumps(detail["properties"], ensure_ascii=False, default=str)))
        out.console.print("[bold]body[/]")
        if isinstance(detail["body"], str):
            out.console.print(detail["body"], markup=False)
        else:
            out.console.print(JSON(json.dumps(detail["body"], ensure_ascii=False)))
    return OK


def cmd_dead_letters_replay(args, out: Output) -> int:
    from ops.deadletters import DeadLetterQueue
    if bool(args.message_ids) == bool(args.all):
        out.error("name the message ids to replay, or --all")
        return FAILURE
    with DeadLetterQueue(args.amqp_uri) as dlq:
        report = dlq.replay(args.message_ids or None, queue=args.queue)
    status = ATTENTION if report.failed or report.not_found else OK
    if out.as_json:
        out.json(report.as_dict())
        return status
    for letter in report.replayed:
        out.console.print(f"[green]replayed[/] {escape(str(letter.message_id))} ({escape(str(letter.event_type))})"
                          f" → {escape(letter.queue)}")
    for letter, error in report.failed:
        out.console.print(f"[red]kept[/] {escape(str(letter.message_id))} ({escape(str(letter.event_type))}):"
                          f" {escape(error)}")
    for message_id in report.not_found:
        out.console.print(f"[red]not found[/] {escape(message_id)}")
    out.console.print(f"{len(report.replayed)} replayed, {len(report.failed)} kept, "
                      f"{report.remaining} left in the dead-letter queue")
    return status


# --------------------------------------------------------------------------- rebuild


def cmd_rebuild_reporting(args, out: Output) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from services.reporting.rebuild import rebuild
    from shared.db import Database
    database = Database(args.database_url or database_url("reporting"))
    try:
        if out.as_json:
            result = rebuild(database, batch_size=args.batch_size)
            out.json(result)
            return OK
        with Progress(TextColumn("replaying reporting's event log"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("events"), TimeElapsedColumn(), console=out.errors,
                      transient=False) as progress:
            task = progress.add_task("rebuild", total=None)

            def show(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)
            result = rebuild(database, batch_size=args.batch_size, progress=show)
    finally:
        database.dispose()
    out.console.print(f"[green]rebuilt[/] from {result['events']:,} events in {result['seconds']} s"
                      + (f" ({result['skipped']} of unknown types skipped)" if result.get("skipped") else ""))
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("read model")
    table.add_column("rows", justify="right")
    for name, rows in sorted(result.get("tables", {}).items()):
        table.add_row(name, f"{rows:,}")
    out.console.print(table)
    return OK


# --------------------------------------------------------------------------- parser


def parser() -> argparse.ArgumentParser:
    # --json and --amqp-uri work before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout instead of tables")
    common.add_argument("--amqp-uri", default=argparse.SUPPRESS, help="default: $AMQP_URI")
    main = argparse.ArgumentParser(prog="thongthin", parents=[common],
                                   description="Operate Thongthin: status, dead letters, rebuilds.")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser("status", parents=[common], help="services' health and metrics, queue depths")
    status.add_argument("--rate-window", type=float, default=2.0,
                        help="seconds between two scrapes for the per-second rates (0: totals only)")
    status.add_argument("--timeout", type=float, default=3.0, help="HTTP timeout per request")
    status.set_defaults(handler=cmd_status)

    dead = commands.add_parser("dead-letters", parents=[common], help="inspect and replay the dead-letter queue")
    dead_commands = dead.add_subparsers(dest="dead_command", required=True, metavar="ACTION")
    listing = dead_commands.add_parser("list", parents=[common], help="what is in the dead-letter queue")
    listing.add_argument("--limit", type=int, default=None, help="only the first N")
    listing.add_argument("--queue", help="only those that failed in this queue, e.g. reporting.events")
    listing.set_defaults(handler=cmd_dead_letters_list)
    show = dead_commands.add_parser("show", parents=[common], help="one message: headers and body")
    show.add_argument("message_id")
    show.set_defaults(handler=cmd_dead_letters_show)
    replay = dead_commands.add_parser("replay", parents=[common],
                                      help="send messages back to their original queue")
    replay.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    replay.add_argument("--all", action="store_true", help="every dead letter (with --queue: of that queue)")
    replay.add_argument("--queue", help="only those that failed in this queue")
    replay.set_defaults(handler=cmd_dead_letters_replay)

    rebuild = commands.add_parser("rebuild", parents=[common], help="rebuild read models")
    rebuild_commands = rebuild.add_subparsers(dest="rebuild_command", required=True, metavar="WHAT")
    reporting = rebuild_commands.add_parser("reporting", parents=[common],
                                            help="reporting's read models from its event log")
    reporting.add_argument("--batch-size", type=int, default=5000)
    reporting.add_argument("--database-url", help="default: $REPORTING_DATABASE_URL or var/reporting.db")
    reporting.set_defaults(handler=cmd_rebuild_reporting)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    args.amqp_uri = getattr(args, "amqp_uri", None) or amqp_uri()
    out = Output(args.json)
    try:
        return args.handler(args, out)
    except amqp.exceptions.NotFound as exc:
        out.error(f"{exc.reply_text} -- has no service started on this broker (and virtual host) yet? "
                  "Every service declares the topology when it starts.")
        return FAILURE
    except (OSError, ConnectionError, amqp.exceptions.AMQPError) as exc:
        out.error(f"cannot reach the broker at {args.amqp_uri.split('@')[-1]}: {exc}")
        return FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
