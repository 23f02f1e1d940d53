// Package softhsmtests holds Strongroom's end-to-end tests: a real SoftHSM2
// token, a real PostgreSQL server started by the tests themselves, the real
// KMIP server over mutually authenticated TLS, and clients nobody here wrote
// (PyKMIP from Debian's python3-pykmip).
package softhsmtests
