// Package replication will mirror Strongroom nodes with PostgreSQL logical
// replication. The storage schema is already shaped for it: every row
// carries the node that wrote it, object rows are written once by their
// origin node and changes are appended events, so each node can publish
// only its own rows and no node ever updates another's.
package replication
