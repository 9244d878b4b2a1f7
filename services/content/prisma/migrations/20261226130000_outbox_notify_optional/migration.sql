-- A transaction that NOTIFYs takes PostgreSQL's database-wide notify lock at commit and holds it
-- through its WAL flush: every such commit waits for the one before. PutContent writes an outbox
-- row per call, so its commits were serialized on that lock (bench:content, 2026-11-26: at
-- concurrency 32, 4.4 of 6 active PutContent statements waited on Lock:object). The service's
-- PutContent statement now sets pm.outbox_notify = 'off' for its own transaction and wakes its
-- relay in process after it returns (src/db/insert-content-with-event.ts); every other writer
-- (other RPCs, tools, a replica of the previous version) still NOTIFYs as before.
create or replace function pm_outbox_notify() returns trigger language plpgsql as $$
begin
  if current_setting('pm.outbox_notify', true) = 'off' then return null; end if;
  perform pg_notify('pm_outbox', '');
  return null;
end $$;
