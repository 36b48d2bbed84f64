-- The tables beside the jobs table in the manticore store (SCHED_STORE=manticore).
-- Targets Manticore Search 6.x/7.x SphinxQL, not yet run against a live server (RT mode).
-- The scheduler runs the same statements at start (ManticoreDialect.SIDE_TABLES, checked by
-- ManticoreDialectTest); this file is for creating them by hand:
--   mysql -h 127.0.0.1 -P 9306 < conf/manticore/accounts.sql
--
-- Each document id is the first 8 bytes of a SHA-256 (SqlDialect.idOf): of the account name in
-- accounts, of the account and the Idempotency-Key in submit_keys; job_runs uses the job id.
-- registered_hosts holds testboxes registered by hand (POST hosts/{hostname}), by a hash of the name.
-- accounts.token_digest is the hex SHA-256 of the account's token: the token is never stored.
-- submit_keys holds the first answer to a submit made with an Idempotency-Key; a Manticore
-- transaction covers one table, so a key is written just before its jobs, and a key whose jobs
-- are not all there is dropped when read.
CREATE TABLE IF NOT EXISTS accounts (name string, email string, display_name string, role string, created bigint, token_digest string);
CREATE TABLE IF NOT EXISTS submit_keys (account string, idem_key string, request_digest string, created bigint, job_ids string, answer string);
CREATE TABLE IF NOT EXISTS job_runs (submit_id string);
CREATE TABLE IF NOT EXISTS registered_hosts (name string, info string, updated bigint);
