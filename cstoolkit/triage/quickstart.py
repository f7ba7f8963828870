"""The quickstart's triage step: the shipped recipes in the workspace, one run as a dry run.

:func:`install_recipes` copies every shipped recipe (``recipes/`` of the repository, packaged in
the wheel as ``cstoolkit/recipes``) into the workspace, keeping any file already there so the
user can edit and re-run them; :func:`demo` plans ``paid-plan-priority.yaml`` over the synced
tickets. Nothing is written to the helpdesk.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cstoolkit.triage.engine import Plan

RECIPE_NAME = "paid-plan-priority.yaml"
ROSTER_NAME = "roster.example.yaml"
#: Where the shipped recipes are: inside the installed package (a wheel), else the checkout.
_PACKAGED_RECIPES = Path(__file__).resolve().parents[1] / "recipes"
_REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def shipped_recipes_dir() -> Path:
    """The directory of the shipped recipes (their tests and the example roster beside them)."""
    if (_PACKAGED_RECIPES / RECIPE_NAME).is_file():
        return _PACKAGED_RECIPES
    if (_REPO_RECIPES / RECIPE_NAME).is_file():
        return _REPO_RECIPES
    raise FileNotFoundError(f"the shipped recipes are not installed (no {RECIPE_NAME})")


def install_recipes(target: Path) -> list[Path]:
    """Copy the shipped recipes into ``target``; files already there are kept. Returns the
    recipes (not their tests, not the roster) in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(shipped_recipes_dir().glob("*.yaml")):
        dest = target / source.name
        if not dest.exists():
            dest.write_text(source.read_text("utf-8"), "utf-8")
    return sorted(p for p in target.glob("*.yaml") if is_recipe_name(p.name))


def is_recipe_name(name: str) -> bool:
    """A recipe's file name (not a ``*.test.yaml`` file, not the example roster)."""
    return name.endswith(".yaml") and not name.endswith(".test.yaml") and name != ROSTER_NAME


def demo(config: Any, store: Any, host: Any, *, show: int = 5) -> tuple[str, Plan]:
    """Dry-run the demo recipe; return a short text summary and the plan."""
    from cstoolkit.triage import runner

    target = config.base_dir / "recipes" / RECIPE_NAME
    if not target.exists():
        install_recipes(target.parent)
    ws = runner.Workspace(config, host, store)
    plan = runner.plan_run(ws, [target])
    s = plan.summary()
    rel = target.relative_to(config.base_dir)
    lines = [
        f"Triage recipe {rel} (dry run, nothing written): {s['evaluated']} tickets "
        f"evaluated, {s['matched']} matched a rule, {s['changing']} would change.",
    ]
    for tp in plan.changing[:show]:
        lines.append(
            f"  {tp.ticket_id}  {', '.join(m.split('/', 1)[1] for m in tp.matched)}: "
            f"{'; '.join(tp.describe_changes())[:100]}"
        )
    if len(plan.changing) > show:
        lines.append(f"  ... and {len(plan.changing) - show} more")
    recipe = shlex.quote(str(rel))
    lines.append(f"  see it all:  cst triage run {recipe}")
    lines.append(f"  apply it:    cst triage run {recipe} --apply")
    lines.append("  every recipe: cst recipe check recipes/*.yaml  (docs/recipes.md)")
    return "\n".join(lines), plan
