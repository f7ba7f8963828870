-- The tickets answered from the knowledge base (custom field kb_article set) by creation: a
-- partial index holding only those few, so the KPI report's self-service counts read the
-- answered tickets of a period through it instead of decoding every ticket's custom fields
-- (cstoolkit/store/knowledge.py self_service_counts).
CREATE INDEX tickets_kb_answered ON tickets (created_at)
    WHERE json_extract(custom_fields, '$.kb_article') IS NOT NULL;
