"""Triage: recipes (ordered if-then rules over tickets), assignment strategies and the roster.

* :mod:`cstoolkit.textfiles` (outside this package) -- YAML with line/column positions;
* :mod:`cstoolkit.triage.recipe` -- the recipe model, parsed and checked;
* :mod:`cstoolkit.triage.actions` -- built-in actions and the action protocol for plugins;
* :mod:`cstoolkit.triage.engine` -- plans a run (dry by default) and applies it through the one
  write path (:mod:`cstoolkit.push`);
* :mod:`cstoolkit.triage.assign` / :mod:`cstoolkit.triage.roster` -- who gets a ticket;
* :mod:`cstoolkit.triage.check`, :mod:`cstoolkit.triage.graph`, :mod:`cstoolkit.triage.testing`,
  :mod:`cstoolkit.triage.backtest` -- ``cst recipe check|graph|test`` and ``cst triage backtest``.

The recipe language is documented in docs/recipes.md.
"""
