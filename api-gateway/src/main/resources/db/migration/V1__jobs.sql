-- Forge Queue gateway schema. Owned by the api-gateway module only.

-- API keys: only the SHA-256 hash of a key is stored.
create table api_key (
    id          uuid primary key,
    name        text        not null,
    key_hash    bytea       not null unique,
    created_at  timestamptz not null default now(),
    disabled_at timestamptz
);

-- Tickets: unique and increasing across any number of gateways (one shared sequence, no cache so that the
-- order of tickets follows the order of submissions as closely as possible).
create sequence job_ticket_seq as bigint;

create table job (
    id                  uuid primary key,
    owner_key_id        uuid        not null references api_key (id),
    pool                text        not null,
    ticket              bigint      not null unique default nextval('job_ticket_seq'),
    spec                jsonb       not null,
    status              text        not null
        check (status in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress            smallint    not null default 0 check (progress between 0 and 100),
    -- attempt and seq of the last event applied (0/0 before the first); see the merge in EventMerger
    attempt             integer     not null default 0,
    last_seq            bigint      not null default 0,
    worker_id           text,
    error_code          text,
    error_message       text,
    metadata            jsonb       not null default '{}'::jsonb,
    -- descriptions of the result images (no bytes; those are in job_image)
    images              jsonb       not null default '[]'::jsonb,
    cancel_requested_at timestamptz,
    created_at          timestamptz not null default now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    -- when this gateway fleet last applied an event to the job (gateway clock): the stuck sweep looks at it
    last_event_at       timestamptz,
    -- increases by one with every change: optimistic checks and the version WebSocket clients resume from
    version             bigint      not null default 1
) with (fillfactor = 80); -- room for HOT updates of progress/heartbeat merges

-- newest-first listing of a key's jobs (cursor = ticket)
create index job_owner_ticket on job (owner_key_id, ticket desc);
-- per-key cap on jobs in flight
create index job_owner_in_flight on job (owner_key_id) where status in ('QUEUED', 'RUNNING');
-- queue positions: QUEUED jobs of a pool in ticket order
create index job_queued on job (pool, ticket) where status = 'QUEUED';
-- running jobs (stuck sweep, queue overview)
create index job_running on job (pool) where status = 'RUNNING';
-- recent outcomes (mean job time, active workers)
create index job_finished on job (finished_at) where finished_at is not null;

create table job_image (
    job_id    uuid    not null references job (id) on delete cascade,
    idx       integer not null,
    mime_type text    not null,
    width     integer not null,
    height    integer not null,
    seed      bigint  not null,
    etag      text    not null,
    data      bytea   not null,
    primary key (job_id, idx)
);

-- one row per transition (and per new attempt of a running job)
create table job_state_history (
    id          bigint generated always as identity primary key,
    job_id      uuid        not null references job (id) on delete cascade,
    from_status text,
    to_status   text        not null,
    attempt     integer     not null,
    worker_id   text,
    reason      text,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null default now()
);
create index job_state_history_job on job_state_history (job_id, id);

-- Idempotency-Key: the same key and body give the same job. The job row is inserted after this row, in the
-- same transaction, hence the deferred foreign key.
create table idempotency_key (
    owner_key_id    uuid        not null references api_key (id),
    idempotency_key text        not null,
    request_hash    bytea       not null,
    job_id          uuid        not null references job (id) on delete cascade deferrable initially deferred,
    created_at      timestamptz not null default now(),
    primary key (owner_key_id, idempotency_key)
);
create index idempotency_key_created on idempotency_key (created_at);

-- Transactional outbox: written in the same statement as the job change it announces. An entry is claimed by
-- one gateway (claimed_by/claimed_until, a lease) and marked sent once the broker confirmed it.
create table outbox (
    id            bigint generated always as identity primary key,
    kind          text        not null check (kind in ('JOB', 'CANCEL')),
    job_id        uuid        not null,
    created_at    timestamptz not null default now(),
    claimed_by    text,
    claimed_until timestamptz,
    attempts      integer     not null default 0,
    sent_at       timestamptz
);
create index outbox_unsent on outbox (id) where sent_at is null;
create index outbox_sent on outbox (sent_at) where sent_at is not null;

-- Deep merge of two JSON objects: keys of patch win, nested objects are merged, everything else is replaced.
create function fq_jsonb_deep_merge(base jsonb, patch jsonb) returns jsonb
    language plpgsql immutable as
$$
declare
    k      text;
    v      jsonb;
    result jsonb;
begin
    if patch is null then
        return base;
    end if;
    if base is null or jsonb_typeof(base) <> 'object' or jsonb_typeof(patch) <> 'object' then
        return patch;
    end if;
    if patch = '{}'::jsonb then
        return base;
    end if;
    result := base;
    for k, v in select key, value from jsonb_each(patch)
        loop
            if jsonb_typeof(result -> k) = 'object' and jsonb_typeof(v) = 'object' then
                result := jsonb_set(result, array [k], fq_jsonb_deep_merge(result -> k, v));
            else
                result := result || jsonb_build_object(k, v);
            end if;
        end loop;
    return result;
end
$$;
