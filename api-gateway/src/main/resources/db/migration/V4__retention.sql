-- Data lifecycle (issue 19; docs/data-retention.md): a finished job's prompt and images are erased after the retention
-- time (gateway.retention.after) or when its owner asks (DELETE /api/v1/jobs/{id}/data). The row stays as a tombstone:
-- id, ticket, status, times, the settings without the prompts, the error code; history rows stay too.
alter table job
    -- when the job's prompts, images and prompt-bearing metadata were erased; null while it still holds them
    add column data_erased_at timestamptz,
    -- who erased them: 'owner' (the erase API) or 'retention' (the retention sweep)
    add column data_erased_by text check (data_erased_by in ('owner', 'retention')),
    add constraint job_data_erased_both check ((data_erased_at is null) = (data_erased_by is null));

-- finished jobs that still hold their data, oldest first: the retention sweep's batches walk it from its start, and an
-- erased job leaves it, so the sweep never scans what it already erased
create index job_retention_due on job (finished_at) where finished_at is not null and data_erased_at is null;
