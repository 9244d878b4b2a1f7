-- Pausing a schedule (PauseSchedule / ResumeSchedule). Never edit once applied: add a new
-- migration folder instead. A nullable column without a default: a catalog change, no rewrite.
alter table schedules add column paused_at timestamptz(6);

-- The scheduler's index holds only the schedules that fire: a paused schedule whose next fire
-- has passed would otherwise stay at the front of the index, read and skipped every tick.
-- (A plain build, as the schedules table is small; it blocks writes to it while it builds.)
create index schedules_due_idx on schedules (next_fire_at) where paused_at is null;
drop index if exists schedules_next_fire_at_idx;
