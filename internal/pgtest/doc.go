// Package pgtest starts throwaway PostgreSQL clusters for tests, benchmarks
// and tools: initdb into a temporary folder, a server on a free loopback port,
// databases owned by password-authenticated roles, and a fast stop at the
// end. Nothing outside the folder is touched and no running service is
// assumed.
//
// Authentication: the Unix socket (inside the cluster folder) trusts the
// superuser "postgres" for administration; TCP on 127.0.0.1 requires
// scram-sha-256 passwords, as a production install does. Passwords are
// random and reach the server only as SCRAM verifiers, so they never appear
// in its log.
//
// PostgreSQL refuses to run as root. When the test runs as root (CI), initdb,
// pg_ctl and the server run as the "postgres" system user, and the cluster
// folder is created in a temporary directory whose parents that user can
// traverse.
//
// Startup (initdb + start) takes on the order of one to two seconds, while a
// database costs a few tens of milliseconds: start one Server in a parent
// test and give each subtest its own database with NewDatabase.
package pgtest
