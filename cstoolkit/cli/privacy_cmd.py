"""``cst privacy``: erase a person's data from the store and keep it out of later syncs."""

from __future__ import annotations

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, pass_app


@click.group(cls=base.Group)
def privacy() -> None:
    """Erasure requests: forget a person in the store and suppress them at ingest."""


@privacy.command("forget")
@click.argument("requester")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
def forget(app: App, requester: str, as_json: bool) -> None:
    """Erase REQUESTER (an email or a person id such as desk:u-17) from the store.

    Keeps pseudonymised ticket and event rows so counts and metrics survive, records the
    erasure in the audit log without the personal data, and adds the person to the
    suppression list so the next sync does not bring the data back. Exit 3 when nothing
    stored matched (the suppression is recorded anyway). Erase them in the helpdesk too.
    """
    from cstoolkit.errors import NotFoundError
    from cstoolkit.ops.privacy import forget as engine
    from cstoolkit.output import write_json

    report = engine(app.store, requester)
    if as_json:
        write_json(report.as_dict())
    c = report.counts
    if not report.matched:
        raise NotFoundError(
            "no stored data matched; the requester is on the suppression list for later syncs",
            hint="check the spelling: an email, or a person id such as desk:u-17",
        )
    app.say(
        f"forgot {report.people} person record(s): {c['tickets']} ticket(s) and "
        f"{c['events']} event(s) pseudonymised, {c['survey_offers']} survey offer(s), "
        f"{c['survey_answers']} answer(s), {c['ledger']} ledger and {c['audit_entries']} audit "
        f"entr(ies) scrubbed; suppressed at ingest ({report.suppression})"
    )
