-- schema_info: Strongroom object store, version 3: the tamper-evident audit trail.
--
-- One record per KMIP batch item (and per refused TLS handshake). Each node
-- keeps its own chain: seq counts from 1 per origin_node, and chain is an
-- HMAC computed in the HSM over the record's canonical encoding and the
-- previous record's chain (package audit). Like every table here, a node
-- inserts only its own rows and nothing is ever updated or deleted, so the
-- table mirrors with a row filter (origin_node = <node>). The guard trigger
-- stops ordinary writes; a database superuser can still disable it, which is
-- what `strongroom audit verify` is for. Records never hold key material.
CREATE TABLE audit_records (
    origin_node  text        COLLATE "C" NOT NULL,
    seq          bigint      NOT NULL,
    at           timestamptz NOT NULL,
    operation    text        NOT NULL,
    uid          text        NOT NULL DEFAULT '',
    key_name     text        NOT NULL DEFAULT '',
    user_name    text        NOT NULL DEFAULT '',
    group_name   text        NOT NULL DEFAULT '',
    addr         text        NOT NULL DEFAULT '',
    status       text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    chain        bytea       NOT NULL,
    CONSTRAINT audit_records_pkey PRIMARY KEY (origin_node, seq),
    CONSTRAINT audit_records_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT audit_records_seq_check CHECK (seq >= 1)
);
CREATE INDEX audit_records_at_idx ON audit_records (at);
CREATE INDEX audit_records_uid_idx ON audit_records (uid, at);

CREATE FUNCTION audit_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records rows are append-only (audit trail)';
END
$$;
CREATE TRIGGER audit_records_guard BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_guard();

COMMENT ON TABLE audit_records IS 'Append-only audit trail, one HMAC chain per origin_node (seq from 1). Publish per origin: WHERE (origin_node = <node>).';
