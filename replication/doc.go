// Package replication mirrors Strongroom nodes with PostgreSQL 15 logical
// replication.
//
// The storage schema is shaped for it (docs/DESIGN.md): every row carries
// the node that wrote it (origin_node), object rows are written once by
// their origin node and every later change is an appended event, so no node
// ever updates another node's rows. PostgreSQL 15 has no subscription option
// origin = none, so two nodes that published whole tables to each other
// would echo rows forever; instead each node publishes only its own rows:
//
//	CREATE PUBLICATION strongroom_<node> FOR TABLE
//	    objects WHERE (origin_node IN ('<node>', '<node>-admin')),
//	    object_events WHERE (...), node_heartbeats WHERE (...), ...
//
// (every table of publishedTables, the same filter; "<node>-admin" is the
// chain of the node's administrator commands, AdminChain)
//
// and subscribes to every peer's publication (Add). A row applied from a
// peer carries the peer's name, so the local publication never sends it
// back: no loop, whatever the number of nodes.
//
// Rows applied by a subscription are written with session_replication_role
// = replica, so ordinary triggers do not fire for them: the schema's guard
// triggers (which refuse updates and deletes that break the mirroring rule)
// and the foreign key from object_events to objects only check local
// writes. That is what lets an event arrive before its object during the
// first copy, and the origin's scrub of a destroyed blob apply on a peer.
//
// Privileges on PostgreSQL 15: CREATE SUBSCRIPTION (Add, Remove) needs a
// superuser on the local database, and the peer connection string needs a
// role with the REPLICATION attribute and SELECT on the published tables (the
// initial copy reads them); creating the peer's publication when it is
// missing needs the owner of the tables there. The peer connection string,
// password included, is stored by PostgreSQL in pg_subscription (readable
// only by superusers). Status works with the serving role; the time lag
// columns of pg_stat_replication need pg_monitor.
package replication
