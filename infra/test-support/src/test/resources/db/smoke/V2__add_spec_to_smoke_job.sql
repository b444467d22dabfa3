alter table smoke_job add column spec jsonb not null default '{}'::jsonb;
create index smoke_job_status_idx on smoke_job (status);
