-- Issue 17: a merge looks up the retired versions of its documents among removals only
-- (docs/contract.md#storage). A stored resource's version is above every version in its
-- history (domain/merge_plan.py numbers them so), so only a removed resource's last version
-- is needed, and that is the row its removal wrote. The index on document_id alone served
-- only that lookup: each history row of a re-merge paid for it, and the lookup read every
-- version the document ever had.
-- depends: 0010_rule_set_privileges

CREATE INDEX resource_history_removed_idx ON resource_history (document_id, resource_id, version_id)
    WHERE superseded_by = 'delete';
DROP INDEX resource_history_document_idx;
