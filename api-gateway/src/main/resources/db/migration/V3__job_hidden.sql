-- A finished job its owner removed from the history (PUT /api/v1/jobs/{id}/hidden). The job and its images stay
-- (an operator may still need them); the list leaves hidden jobs out unless asked (hidden=true). Null = shown.
alter table job add column hidden_at timestamptz;
