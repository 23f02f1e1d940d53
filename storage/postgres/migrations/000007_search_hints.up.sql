-- Search hints, so that no request or background task scans every row.
--
-- Name hints for Locate by Name (storage.Filter.Name). Names live in the
-- TTLV attributes and events, which SQL cannot read, so Locate used to fold
-- every object to find one by name: its latency grew with the table. The
-- operations layer now also writes the Name values an object starts with and
-- those each event gives it; Locate asks the database for candidates through
-- these indexes and still decides by folding the candidates' events.
--
-- NULL means unknown (rows written before this migration, or by a writer that
-- does not set hints): such rows are always candidates, so no object is ever
-- missed. '{}' means no name. The columns replicate with their rows.
ALTER TABLE objects ADD COLUMN names text[];
ALTER TABLE object_events ADD COLUMN names text[];
CREATE INDEX objects_names_idx ON objects USING gin (names);
CREATE INDEX objects_names_unknown_idx ON objects (uid) WHERE names IS NULL;
CREATE INDEX object_events_names_idx ON object_events USING gin (names);
CREATE INDEX object_events_names_unknown_idx ON object_events (uid) WHERE names IS NULL;

-- Destroy hints for the scrubber (replication.ScrubCandidates), which every few
-- seconds looks for this node's objects that a peer destroyed and that still
-- hold their blob: scrubs is true on events that may destroy key material,
-- false on others, NULL on rows written before this migration (the scrubber
-- still checks those by their payload). The partial index holds only
-- destroying and unknown events.
ALTER TABLE object_events ADD COLUMN scrubs boolean;
CREATE INDEX object_events_scrubs_idx ON object_events (uid) WHERE scrubs IS NOT FALSE;
