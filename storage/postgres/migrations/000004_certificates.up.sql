-- schema_info: Strongroom object store, version 4: issued certificates and revocations.
--
-- `strongroom ca issue|sign|rotate-server|replace` records every certificate
-- it issues (issued_certificates) and `strongroom ca revoke` appends a row to
-- certificate_revocations; serve reloads the revoked serials every few
-- seconds and refuses them at the handshake. Like every other table, rows
-- carry the node that wrote them (origin_node) so that mirroring can publish
-- them per origin (WHERE origin_node = <node>); a revocation written on one
-- node is then enforced by all. Serials are lowercase hex without leading
-- zeros, as pki.Identity.Serial prints them.
CREATE TABLE issued_certificates (
    serial       text        COLLATE "C" NOT NULL,
    origin_node  text        COLLATE "C" NOT NULL,
    subject      text        NOT NULL,
    role         text        NOT NULL DEFAULT '',
    user_name    text        NOT NULL DEFAULT '',
    group_name   text        NOT NULL DEFAULT '',
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    issuer       text        NOT NULL,
    cert_pem     text        NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT issued_certificates_pkey PRIMARY KEY (serial),
    CONSTRAINT issued_certificates_serial_check CHECK (serial ~ '^[0-9a-f]{1,40}$'),
    CONSTRAINT issued_certificates_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
);

CREATE TABLE certificate_revocations (
    serial       text        COLLATE "C" NOT NULL,
    origin_node  text        COLLATE "C" NOT NULL,
    revoked_at   timestamptz NOT NULL DEFAULT now(),
    reason       text        NOT NULL DEFAULT '',
    CONSTRAINT certificate_revocations_pkey PRIMARY KEY (serial, origin_node),
    CONSTRAINT certificate_revocations_serial_check CHECK (serial ~ '^[0-9a-f]{1,40}$'),
    CONSTRAINT certificate_revocations_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
);

COMMENT ON TABLE issued_certificates IS 'Certificates issued by strongroom ca (registry for ca list). Publish per origin: WHERE (origin_node = <node>).';
COMMENT ON TABLE certificate_revocations IS 'Revoked certificate serials, refused at the TLS handshake by every node. Publish per origin: WHERE (origin_node = <node>).';
