"""The knowledge base: articles synced from knowledge sources, searched with one score.

* :mod:`cstoolkit.knowledge.text`: words -> terms (stop words, Snowball stems), one analyser;
* :mod:`cstoolkit.knowledge.sync`: pull each configured source into the store, incrementally;
* :mod:`cstoolkit.knowledge.search`: BM25 (FTS5's formula) over the store's index, normalised;
* :mod:`cstoolkit.knowledge.answer`: what a ticket asks, whether to answer it, with what;
* :mod:`cstoolkit.knowledge.metrics`: self-service figures;
* :mod:`cstoolkit.knowledge.gaps`: the knowledge-gaps table.

The package sits beside the condition language, below the engines: triage's actions and the
KPI report use it; it reads and writes the store (:mod:`cstoolkit.store.knowledge`).
"""

#: where the knowledge-gaps table takes a ticket's topics from (:mod:`cstoolkit.knowledge.gaps`):
#: ``auto`` (its tags; a ticket without tags takes the routing model's predicted tags when a
#: model exists), ``tags`` (tags only), ``model`` (the predicted tags only). Here, not in the
#: module, so that commands offer the choice without importing the search.
TOPIC_SOURCES = ("auto", "tags", "model")
