-- The database roles' privileges on the rule-set tables (migration 0008 was written beside 0007,
-- which grants from scratch; docs/contract.md#database-roles).
-- depends: 0007_audit_integrity 0008_rule_sets 0009_lean_hot_path

-- The worker judges by the version activated last and labels each applied review action.
GRANT SELECT ON rule_sets, rule_set_activations TO optimerge_worker;
GRANT INSERT ON review_verdicts TO optimerge_worker;
-- ON CONFLICT (action_id) reads the arbiter column: a redelivered action labels once.
GRANT SELECT (action_id) ON review_verdicts TO optimerge_worker;

-- The app and the `thresholds` commands: the replay reads the verdicts; admins save and
-- activate versions (both tables are append-only: their triggers refuse any change).
GRANT SELECT ON rule_sets, rule_set_activations, review_verdicts TO optimerge_app;
GRANT INSERT ON rule_sets, rule_set_activations TO optimerge_app;
GRANT USAGE ON SEQUENCE rule_set_activations_activation_id_seq TO optimerge_app;
