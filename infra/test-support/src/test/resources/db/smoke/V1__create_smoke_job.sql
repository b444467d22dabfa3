-- Smoke-test schema for the harness' own PostgresSmokeIT (not part of any application).
create sequence smoke_ticket_seq;

create table smoke_job (
    id         uuid primary key,
    ticket     bigint      not null default nextval('smoke_ticket_seq'),
    status     varchar(16) not null,
    created_at timestamptz not null default now()
);
