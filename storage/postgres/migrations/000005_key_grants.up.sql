-- schema_info: Strongroom object store, version 5: key grants.
--
-- A key client may use the keys of its own group (the owner group recorded
-- in the object's initial attributes, bound by the row MAC) and the keys
-- granted to it here. Grants are insert-only like every other table: a
-- revocation is a later row with action 'revoke', and the newest row for
-- (uid, grantee_kind, grantee) in (created_at, origin_node, id) order wins,
-- so nodes that mirror each other converge. Publish per origin:
-- WHERE (origin_node = <node>).
CREATE TABLE key_grants (
    id            uuid        NOT NULL,
    origin_node   text        COLLATE "C" NOT NULL,
    uid           uuid        NOT NULL,
    grantee_kind  text        NOT NULL,
    grantee       text        NOT NULL,
    action        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    created_by    text        NOT NULL DEFAULT '',
    CONSTRAINT key_grants_pkey PRIMARY KEY (id),
    CONSTRAINT key_grants_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT key_grants_kind_check CHECK (grantee_kind IN ('group', 'user')),
    CONSTRAINT key_grants_grantee_check CHECK (grantee <> ''),
    CONSTRAINT key_grants_action_check CHECK (action IN ('grant', 'revoke'))
);
CREATE UNIQUE INDEX key_grants_origin_id_key ON key_grants (origin_node, id);
ALTER TABLE key_grants REPLICA IDENTITY USING INDEX key_grants_origin_id_key;
CREATE INDEX key_grants_grantee_idx ON key_grants (grantee_kind, grantee);
CREATE INDEX key_grants_uid_idx ON key_grants (uid);

CREATE FUNCTION key_grants_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_grants rows are append-only (mirroring rule)';
END
$$;
CREATE TRIGGER key_grants_guard BEFORE UPDATE OR DELETE ON key_grants
    FOR EACH ROW EXECUTE FUNCTION key_grants_guard();

COMMENT ON TABLE key_grants IS 'Append-only grants of keys to groups or users; the newest row per (uid, grantee_kind, grantee) wins. Publish per origin: WHERE (origin_node = <node>).';
