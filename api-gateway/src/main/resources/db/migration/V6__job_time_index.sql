-- The pool's job time (the ETA's mean and range, the fair-share rate): each gateway reads its pools' latest successful
-- jobs every second. It walked job_finished, newest first, over every finished job of every pool until it had read
-- twenty times the samples it keeps: in the scale benchmark, where 98,000 waiting jobs were cancelled, about 12,600
-- buffers and 110 ms a call. Now each pool reads only its own latest successes, in order, from this index.
--
-- Built and dropped concurrently (Flyway runs such statements outside a transaction): on a large job table a plain
-- CREATE INDEX would block every submit, hand-out and merge while a rolling upgrade's first gateway migrates.
-- a build that failed half-way (this migration is then run again) leaves an invalid index of that name behind
drop index concurrently if exists job_succeeded;
create index concurrently job_succeeded on job (pool, finished_at) where status = 'SUCCEEDED' and started_at is not null;
-- job_finished served only that statement (the retention sweep has job_retention_due)
drop index concurrently if exists job_finished;
