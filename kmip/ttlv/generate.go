package ttlv

// The tag, type and enumeration tables are transcribed from the OASIS KMIP
// specification texts (versions 1.0 to 2.1) rather than typed by hand.
//go:generate go run ./internal/gen -spec /work/shared/kmip-spec -out .
