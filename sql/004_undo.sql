-- An import can be reverted (ARCHITECTURE.md "Undo"): it then keeps its history row and its
-- error report, with status 'reverted'.
ALTER TABLE imports DROP CONSTRAINT imports_status_check;
ALTER TABLE imports ADD CONSTRAINT imports_status_check
    CHECK (status IN ('processing', 'completed', 'failed', 'reverted'));
ALTER TABLE imports ADD COLUMN reverted_at timestamptz;
