-- The indexes the old application's own pages need (a mailbox's inbox, a campaign's messages,
-- newest first), as inbox_message_refs has them. 001 lacked them: at 1M rows the bench's
-- "mailbox's latest 50" read ~130,000 rows of the tenant through emails_tenant_idx and took
-- 1.1 s, so the application, not the migration, held most of the legacy database's CPU.
create index if not exists emails_tenant_id_email_account_id_created_id_idx on emails (tenant_id, email_account_id, created, id);
create index if not exists emails_tenant_id_campaign_id_created_id_idx on emails (tenant_id, campaign_id, created, id);
