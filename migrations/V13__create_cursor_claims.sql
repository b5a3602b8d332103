-- Cursors (read positions) that one EventFlow instance at a time holds, batches that are read
-- again the same until they are finished, and republished changes that keep their change id.
-- The functions that use these columns are in the repeatable migrations R__cursors.sql and
-- R__batches.sql.

-- The claim: the instance that publishes for this cursor, and until when its lease runs. Another
-- instance takes the cursor only once the lease has run out (or was released).
ALTER TABLE eventflow.capture_state
  ADD COLUMN holder        text,
  ADD COLUMN claimed_at    timestamptz,
  ADD COLUMN claimed_until timestamptz,
  -- the batch in flight: read by next_batch, not finished yet. Its changes are those of the
  -- transactions in (lo_snapshot, hi_snapshot] with ids in (last_id, batch_end_id]; batch_complete
  -- says whether it is the last part of those transactions.
  ADD COLUMN batch_end_id   bigint,
  ADD COLUMN batch_complete boolean;

-- A change put back into the change log by republish_failed() keeps the id it was first logged
-- with: that id is its message_id and source.changeId, so a consumer that keeps the highest change
-- id per row never takes it for newer than a change logged after it.
ALTER TABLE eventflow.change_log ADD COLUMN origin_id bigint;
