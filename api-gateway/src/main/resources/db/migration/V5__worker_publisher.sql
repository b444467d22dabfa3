-- Attributable events (issue 19; README "Security"): the broker user of the worker a job is handed to, as the worker
-- announced itself (the RabbitMQ-validated user_id of its WorkerStatus). Set with every assignment and kept after the
-- job ends (like worker_id), so the merge accepts an event of the assignment only when its user_id is this user: a
-- worker credential can spoil at most the jobs handed to that worker. Null for assignments made before this column
-- existed, or to a worker that announced without user_id (gateway.security.require-publisher=false): then the
-- assignment fencing (attempt, worker id) alone applies.
alter table job add column worker_user text;
