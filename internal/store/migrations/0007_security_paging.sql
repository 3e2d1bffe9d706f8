-- Security always pages (issue 10.1) and paging rounds. Times are INTEGER
-- unix milliseconds, UTC.
--
-- page_round numbers an incident's paging rounds: an incident whose page was
-- ended (a human decided) and that is paged again — reopened after a
-- dismissal or resolution because it turned security, or confirmed with an
-- unacknowledged security change — pages under new keys in a new round.
-- paging_since is when the current round began (the origin of its resends
-- and escalation; NULL: detected_at). security_unacknowledged_since is set
-- while a confirmed incident's security change waits for a human's
-- acknowledgement (POST .../confirm), NULL otherwise.
ALTER TABLE incidents ADD COLUMN page_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN paging_since INTEGER;
ALTER TABLE incidents ADD COLUMN security_unacknowledged_since INTEGER;

-- the paging round a page belongs to: an end page ends only its round
ALTER TABLE page_outbox ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
