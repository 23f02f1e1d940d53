-- schema_info: Strongroom object store, version 2: mirroring heartbeats.
--
-- Each node upserts its own row every few seconds (replication.Heartbeat) and
-- publishes it with its objects and events (row filter origin_node = <node>),
-- so a peer measures end-to-end replication health as now() - beat_at of the
-- node's row. Like every other table, a node writes only its own row; the
-- primary key is origin_node itself, so the default replica identity already
-- holds the row-filter column and the owner's UPDATEs publish.
CREATE TABLE node_heartbeats (
    origin_node  text        COLLATE "C" NOT NULL,
    beat_at      timestamptz NOT NULL,
    seq          bigint      NOT NULL,
    CONSTRAINT node_heartbeats_pkey PRIMARY KEY (origin_node),
    CONSTRAINT node_heartbeats_origin_node_check CHECK (origin_node ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT node_heartbeats_seq_check CHECK (seq >= 0)
);

COMMENT ON TABLE node_heartbeats IS 'One row per node, updated only by that node (replication.Heartbeat); a peer reads now() - beat_at as the heartbeat age. Publish per origin: WHERE (origin_node = <node>).';
