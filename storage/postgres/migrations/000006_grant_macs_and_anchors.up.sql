-- schema_info: Strongroom object store, version 6: grant MACs, mirrored certificates, audit anchors.
--
-- key_grants.mac is an HMAC computed in the HSM over the grant's canonical
-- encoding (kmip/ops grant_binding.go). A grant whose MAC is missing or does
-- not verify is ignored when a key client is authorized, so that SQL access
-- alone cannot give a client another group's key. Rows written before this
-- version get '' and so count as invalid: grant them again.
ALTER TABLE key_grants ADD COLUMN mac bytea NOT NULL DEFAULT '';

-- issued_certificates is mirrored like every other table (row filter on
-- origin_node). Two nodes may record the same certificate (a second node's
-- init finds the certificates copied from the first): the key becomes
-- (serial, origin_node) so the copies never conflict, and it is the replica
-- identity, as the row filter needs. certificate_revocations already has
-- that key.
ALTER TABLE issued_certificates DROP CONSTRAINT issued_certificates_pkey;
ALTER TABLE issued_certificates ADD CONSTRAINT issued_certificates_pkey PRIMARY KEY (serial, origin_node);
CREATE INDEX issued_certificates_issued_idx ON issued_certificates (issued_at DESC, serial);

-- The audit anchor: the last sequence number and chain value of a chain
-- (origin_node: the node's own chain, or "<node>-admin" for its
-- administrator's commands), at anchored_at, under an HSM MAC. Deleting the
-- newest records of a chain leaves a shorter chain that still verifies;
-- the anchor (mirrored to every peer with the heartbeat) says where it
-- ended, so `strongroom audit verify` reports the missing tail.
ALTER TABLE node_heartbeats
    ADD COLUMN audit_seq   bigint      NOT NULL DEFAULT 0,
    ADD COLUMN audit_chain bytea       NOT NULL DEFAULT '',
    ADD COLUMN audit_at    timestamptz NOT NULL DEFAULT 'epoch',
    ADD COLUMN audit_mac   bytea       NOT NULL DEFAULT '',
    ADD CONSTRAINT node_heartbeats_audit_seq_check CHECK (audit_seq >= 0);

COMMENT ON TABLE issued_certificates IS 'Certificates issued by strongroom ca (registry for ca list), one row per (serial, recording node). Publish per origin: WHERE (origin_node IN (<node>, <node>-admin)).';
COMMENT ON COLUMN node_heartbeats.audit_mac IS 'HSM HMAC over (origin_node, audit_at, audit_seq, audit_chain): the audit anchor (package audit).';
