"""Post-resolution surveys (CSAT, NPS, CES): policy, send engine, links, templates, server.

Modules: :mod:`.policy` (eligibility), :mod:`.send` (ledger-based dispatch: never sent twice,
never silently lost), :mod:`.links` (signed answer links), :mod:`.templates` (es/en/pt messages),
:mod:`.provider` (the built-in provider), :mod:`.answers` (recording, CSV import, opt-outs),
:mod:`.server` (``cst survey serve``). Nothing heavy is imported here.
"""
