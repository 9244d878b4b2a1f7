-- The legacy 3-tier shape: one `emails` table holding a ref's metadata columns AND the heavy
-- content (text, html, headers, raw size), with attachments beside it, plus the small reference
-- tables it points at. Deliberately as loose as the old system was: addresses are text (no
-- 254 limit), message_type/direction/status are free text, parent_message_id has no foreign
-- key (a parent can be missing). `updated` is kept by a trigger (the catch-up key).
create table tenants (
  id uuid primary key,
  name text not null,
  created timestamptz not null default now()
);
create table email_accounts (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  email text not null,
  display_name text,
  provider text not null default 'smtp'
);
create table campaigns (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null
);
create table sequence_steps (
  id uuid primary key,
  campaign_id uuid not null references campaigns(id),
  step_number integer not null,
  delay_minutes integer not null default 0
);
create table leads (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  email text not null,
  first_name text,
  last_name text,
  company text
);
create table emails (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  email_account_id uuid not null references email_accounts(id),
  campaign_id uuid references campaigns(id),
  lead_id uuid references leads(id),
  sequence_step_id uuid references sequence_steps(id),
  parent_message_id uuid,
  direction text not null,
  message_type text not null default 'email',
  from_email text not null,
  to_email text not null,
  subject text,
  status text not null,
  provider_message_id text,
  client_key text,
  bounce_type text,
  processed timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  content_text text,
  content_html text,
  headers jsonb not null default '{}',
  raw_size_bytes integer not null default 0
);
create index emails_created_id_idx on emails (created, id);
create index emails_updated_id_idx on emails (updated, id);
create index emails_tenant_idx on emails (tenant_id);
create index emails_parent_idx on emails (parent_message_id);
create table email_attachments (
  id uuid primary key,
  email_id uuid not null references emails(id) on delete cascade,
  filename text,
  mime_type text not null default 'application/octet-stream',
  disposition text not null default 'attachment',
  content bytea not null,
  created timestamptz not null default now()
);
create index email_attachments_email_idx on email_attachments (email_id);

create function emails_touch() returns trigger language plpgsql as $$
begin new.updated := now(); return new; end $$;
create trigger emails_touch before update on emails for each row execute function emails_touch();
