-- Indexes that the queries use, and no other: the events' (kind, at) index served one query,
-- the first priority, group and tags change of each ticket after an instant (the backtest's
-- starting values, cstoolkit/store/backtest.py first_changes). It becomes partial, on those
-- kinds only, so the comments and status changes that make most of the events (and most of
-- what a sync writes) no longer pay for an index entry nothing reads.
DROP INDEX events_kind_at;
CREATE INDEX events_changes_at ON events (kind, at)
    WHERE kind IN ('priority_change', 'group_change', 'tags_change');
