//go:build deps

// Package internal pins the project's third-party modules while packages that
// use them are being written; go mod tidy keeps them in go.mod.
package internal

import (
	_ "github.com/ThalesGroup/crypto11"
	_ "github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	_ "github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/miekg/pkcs11"
	_ "github.com/urfave/cli/v2"
)
