-- ListHolds reads a tenant's held keys in key order. job_holds keeps a row for every key ever
-- used (every campaign's), nearly all released, so the held ones get their own small index
-- instead of a walk over the primary key past the released ones.
create index job_holds_held_idx on job_holds (tenant_id, hold_key) where held;
