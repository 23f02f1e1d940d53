-- schema_info: Strongroom object store, version 1.
--
-- Mirroring rule (PostgreSQL 15 has no subscription option origin = none, so
-- two nodes publishing the same table to each other would echo rows forever):
--   * every row carries origin_node, the node that wrote it, and it never
--     changes;
--   * each node publishes only its own rows through a row-filtered
--     publication, e.g. CREATE PUBLICATION pub_a FOR TABLE objects WHERE
--     (origin_node = 'a'), object_events WHERE (origin_node = 'a');
--   * a node never inserts, updates or deletes another node's rows.
-- objects rows are written once; the only later change is ScrubBlob (blob set
-- to NULL on KMIP Destroy), made by the origin node. object_events rows are
-- append-only: any node may append events about any object, each carrying the
-- appending node as origin_node. Current state is a deterministic fold of the
-- events in (clock, origin_node, id) order, computed by the application.
-- (origin_node, key) unique indexes serve as REPLICA IDENTITY, because a row
-- filter column must be part of the replica identity for UPDATEs to publish.
-- origin_node uses COLLATE "C" so every node sorts events identically.
-- The guard triggers below stop local writes that break the rule; they do not
-- fire for rows applied by a subscription (session_replication_role = replica)
-- and an administrator repairing a lost node can disable them.

CREATE TABLE objects (
    uid          uuid        NOT NULL,
    origin_node  text        COLLATE "C" NOT NULL,
    object_type  bigint      NOT NULL,
    algorithm    bigint      NOT NULL DEFAULT 0,
    length       integer     NOT NULL DEFAULT 0,
    kek          text        NOT NULL DEFAULT '',
    mechanism    bigint      NOT NULL,
    blob         bytea,
    blob_length  integer     NOT NULL,
    attributes   bytea       NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    mac          bytea       NOT NULL DEFAULT '',
    CONSTRAINT objects_pkey PRIMARY KEY (uid),
    CONSTRAINT objects_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT objects_object_type_check CHECK (object_type BETWEEN 1 AND 4294967295),
    CONSTRAINT objects_algorithm_check CHECK (algorithm BETWEEN 0 AND 4294967295),
    CONSTRAINT objects_length_check CHECK (length >= 0),
    CONSTRAINT objects_mechanism_check CHECK (mechanism >= 0),
    CONSTRAINT objects_blob_check CHECK (blob IS NULL OR (octet_length(blob) > 0 AND kek <> '')),
    CONSTRAINT objects_blob_length_check CHECK (blob_length >= 0)
);
CREATE UNIQUE INDEX objects_origin_uid_key ON objects (origin_node, uid);
ALTER TABLE objects REPLICA IDENTITY USING INDEX objects_origin_uid_key;
-- ListObjects: creation order, optionally narrowed by type, algorithm, length.
CREATE INDEX objects_created_idx ON objects (created_at, uid);
CREATE INDEX objects_filter_idx ON objects (object_type, algorithm, length, created_at, uid);

CREATE TABLE object_events (
    id           uuid        NOT NULL,
    uid          uuid        NOT NULL REFERENCES objects (uid),
    origin_node  text        COLLATE "C" NOT NULL,
    clock        bigint      NOT NULL,
    kind         text        NOT NULL,
    payload      bytea       NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    mac          bytea       NOT NULL DEFAULT '',
    CONSTRAINT object_events_pkey PRIMARY KEY (id),
    CONSTRAINT object_events_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT object_events_clock_check CHECK (clock >= 0),
    CONSTRAINT object_events_kind_check CHECK (kind <> '')
);
CREATE UNIQUE INDEX object_events_origin_id_key ON object_events (origin_node, id);
ALTER TABLE object_events REPLICA IDENTITY USING INDEX object_events_origin_id_key;
-- Object and ListObjects read an object's events in fold order.
CREATE INDEX object_events_fold_idx ON object_events (uid, clock, origin_node, id);

CREATE FUNCTION objects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'objects rows are never deleted (mirroring rule)';
    END IF;
    IF NEW.blob IS NOT NULL OR (to_jsonb(NEW) - 'blob') IS DISTINCT FROM (to_jsonb(OLD) - 'blob') THEN
        RAISE EXCEPTION 'objects rows are immutable except for scrubbing the blob (mirroring rule)';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER objects_guard BEFORE UPDATE OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION objects_guard();

CREATE FUNCTION object_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'object_events rows are append-only (mirroring rule)';
END
$$;
CREATE TRIGGER object_events_guard BEFORE UPDATE OR DELETE ON object_events
    FOR EACH ROW EXECUTE FUNCTION object_events_guard();

COMMENT ON TABLE objects IS 'Managed objects, written once by origin_node; only the origin node may set blob to NULL (KMIP Destroy). Publish per origin: WHERE (origin_node = <node>).';
COMMENT ON TABLE object_events IS 'Append-only changes to objects, owned by the node that accepted them (origin_node). Folded in (clock, origin_node, id) order.';
