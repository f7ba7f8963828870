"""The quickstart's triage step: one shipped recipe, run as a dry run on the sample helpdesk.

:func:`demo` copies ``recipes/paid-plan-priority.yaml`` into the workspace (when it is not there
yet, so the user can edit and re-run it) and plans it over the synced tickets. Nothing is
written to the helpdesk.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cstoolkit.triage.engine import Plan

RECIPE_NAME = "paid-plan-priority.yaml"
_REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def shipped_recipe_text() -> str:
    """The text of the shipped demo recipe (the repository's copy, else the packaged one)."""
    path = _REPO_RECIPES / RECIPE_NAME
    if path.is_file():
        return path.read_text("utf-8")
    return _EMBEDDED


def demo(config: Any, store: Any, host: Any, *, show: int = 5) -> tuple[str, Plan]:
    """Dry-run the demo recipe; return a short text summary and the plan."""
    from cstoolkit.triage import runner

    target = config.base_dir / "recipes" / RECIPE_NAME
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(shipped_recipe_text(), "utf-8")
    ws = runner.Workspace(config, host, store)
    plan = runner.plan_run(ws, [target])
    s = plan.summary()
    rel = target.relative_to(config.base_dir)
    lines = [
        f"Triage recipe {rel} (dry run, nothing written): {s['evaluated']} open tickets "
        f"evaluated, {s['matched']} matched a rule, {s['changing']} would change.",
    ]
    for tp in plan.changing[:show]:
        lines.append(
            f"  {tp.ticket_id}  {', '.join(m.split('/', 1)[1] for m in tp.matched)}: "
            f"{'; '.join(tp.describe_changes())[:100]}"
        )
    if len(plan.changing) > show:
        lines.append(f"  ... and {len(plan.changing) - show} more")
    cfg = shlex.quote(str(config.path)) if config.path else "cstoolkit.toml"
    lines.append(f"  see it all:  cst --config {cfg} triage run {shlex.quote(str(target))}")
    lines.append(f"  apply it:    cst --config {cfg} triage run {shlex.quote(str(target))} --apply")
    return "\n".join(lines), plan


# A copy of recipes/paid-plan-priority.yaml for installs without the repository's recipes/
# directory (tests check the two are the same).
_EMBEDDED = """\
# Paying customers first: enterprise tickets are at least high priority, paid ones at least
# normal, and both carry a tag the team's views can sort on.
name: paid-plan-priority
description: Raise the priority of paying customers' tickets.
query: "status:new,open,pending,on_hold"
rules:
  - name: enterprise is high
    when:
      all:
        - requester.plan: enterprise
        - priority: {lt: high}
    then:
      - set: {priority: high}
      - add_tags: [priority_support]
      - note: "Enterprise customer ({{ requester.organization or requester.email }}): \
priority raised to {{ ticket.priority }} by the paid-plan recipe."
    stop: true

  - name: enterprise tagged
    when:
      all:
        - requester.plan: enterprise
        - not: {tags: priority_support}
    then:
      - add_tags: [priority_support]
    stop: true

  - name: paid is at least normal
    when:
      all:
        - requester.plan: paid
        - priority: low
    then:
      - set: {priority: normal}
      - add_tags: [paid_plan]

  - name: free plan urgent needs a look
    when: "requester.plan:free priority:urgent -tag:reviewed_urgency"
    then:
      - add_tags: [check_urgency]
"""
