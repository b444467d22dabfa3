-- The scheduler (docs/scheduling.md): PostgreSQL is the queue of record, one leader gateway hands jobs to workers.

-- Quotas per API key. null = the gateway's default (gateway.quotas.*).
alter table api_key
    add column max_queued   integer check (max_queued >= 0),
    add column max_running  integer check (max_running >= 1),
    add column weight       double precision check (weight > 0 and weight <= 1000),
    -- highest priority class the key may ask for: 0 high, 1 normal, 2 low
    add column max_priority smallint check (max_priority between 0 and 2),
    -- the first characters of the key (its recognisable prefix), for operators; never the secret
    add column key_prefix   text,
    add column updated_at   timestamptz not null default now();

-- A job's place in the scheduler's order: (priority, fair_tag, ticket); see docs/scheduling.md.
-- "attempt" is from now on the number of the job's current assignment (one more for every hand-out).
alter table job
    -- effective priority class: 0 high, 1 normal, 2 low (a low job that waited too long is promoted to 1)
    add column priority           smallint         not null default 1 check (priority between 0 and 2),
    -- the class its owner asked for
    add column requested_priority smallint         not null default 1 check (requested_priority between 0 and 2),
    -- start tag of start-time fair queuing between the keys of a pool (virtual standard images)
    add column fair_tag           double precision not null default 0,
    -- the job's size in standard images (512x512, 20 steps): pixels x steps x images / (512 x 512 x 20)
    add column cost               double precision not null default 1,
    -- the spec's checkpoint and sampler (null: any), copied for placement
    add column checkpoint         text,
    add column sampler            text,
    -- the worker the current attempt is assigned to; null while waiting for a hand-out and once finished
    add column assigned_worker    text,
    add column assigned_at        timestamptz,
    -- when the job last entered the queue (submitted or given back)
    add column queued_at          timestamptz;

update job set queued_at = created_at, checkpoint = spec ->> 'checkpoint', sampler = spec ->> 'sampler';
alter table job alter column queued_at set default now();

-- each worker's assignments (at most 1 + lookahead per worker), for revocation and slot counts
create index job_assigned on job (assigned_worker) where assigned_worker is not null;
-- low-priority jobs by age, for the promotion sweep
create index job_low_waiting on job (created_at) where status = 'QUEUED' and priority = 2;
-- the scheduler's order of a pool's waiting jobs (the index's reload reads QUEUED jobs through job_queued)
create index job_fair_order on job (pool, priority, fair_tag, ticket) where status = 'QUEUED' and assigned_worker is null;

-- Fair share: the virtual finish time of each key in each pool, and each pool's virtual time (the fair tag of the
-- job last handed out). Only these two small tables are touched per submission and hand-out.
create table fair_clock (
    owner_key_id uuid             not null references api_key (id),
    pool         text             not null,
    vfinish      double precision not null,
    primary key (owner_key_id, pool)
);

create table pool_clock (
    pool  text primary key,
    vtime double precision not null default 0
);

-- Leadership: the one gateway whose lease is valid hands out jobs; epoch grows with every change of holder.
create table scheduler_lease (
    id         smallint primary key check (id = 1),
    holder     text,
    epoch      bigint      not null default 0,
    expires_at timestamptz not null default '-infinity'
);
insert into scheduler_lease (id) values (1);

-- Every gateway keeps an in-memory index of the queue (positions, ETA, the leader's picks) from these
-- notifications: one per job that is created, changes status, assignment or priority. Sent on commit, in commit
-- order, to the gateways listening on fq_queue.
create function fq_job_notify() returns trigger
    language plpgsql as
$$
begin
    perform pg_notify('fq_queue', json_build_object(
            'id', new.id, 'v', new.version, 's', new.status, 'p', new.pool, 'o', new.owner_key_id,
            'pr', new.priority, 't', new.fair_tag, 'k', new.ticket, 'c', new.checkpoint, 'sa', new.sampler,
            'co', new.cost, 'q', (extract(epoch from new.queued_at) * 1000)::bigint, 'w', new.assigned_worker,
            'a', new.attempt, 'as', (extract(epoch from new.assigned_at) * 1000)::bigint,
            'st', (extract(epoch from new.started_at) * 1000)::bigint)::text);
    return null;
end
$$;

create trigger job_notify_insert
    after insert on job
    for each row execute function fq_job_notify();

create trigger job_notify_update
    after update on job
    for each row
    when (old.status is distinct from new.status
        or old.assigned_worker is distinct from new.assigned_worker
        or old.attempt is distinct from new.attempt
        or old.priority is distinct from new.priority)
    execute function fq_job_notify();

-- API keys whose access or limits changed (disabled, quotas): every gateway drops its cached copy at once and closes
-- the WebSocket sessions of a disabled key.
create function fq_api_key_notify() returns trigger
    language plpgsql as
$$
begin
    perform pg_notify('fq_keys', new.id::text);
    return null;
end
$$;

create trigger api_key_notify_update
    after update on api_key
    for each row execute function fq_api_key_notify();
