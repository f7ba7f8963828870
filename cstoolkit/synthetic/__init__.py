"""Synthetic helpdesk data: what ``cst sample generate`` and the quickstart write
(:mod:`cstoolkit.sample` is the entry point)."""
