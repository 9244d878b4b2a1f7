-- A schedule's hold key (CreateSchedule / UpdateSchedule hold_key): every job its fires enqueue
-- carries it, so a paused campaign's schedule enqueues HELD jobs (20270103000000_job_holds).
alter table schedules add column hold_key varchar(200);
