package ops

import (
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Separation of duties (the appliance manual's NOTE in chapter 3): with
// Config.SeparationOfDuties, no certificate may create, register, re-key or
// destroy objects over KMIP, not even a Crypto Officer's. Keys are then
// created and destroyed only by the administrator on the server itself
// (`strongroom key ...` runs this layer in its own process against the
// database and the HSM, see cmd/strongroom/local.go), so that whoever holds
// a client certificate cannot mint or wipe keys.
func sodRefuses(op ttlv.Operation) bool {
	switch op {
	case ttlv.OperationCreate, ttlv.OperationCreateKeyPair, ttlv.OperationRegister, ttlv.OperationDestroy,
		ttlv.OperationReKey, ttlv.OperationReKeyKeyPair, ttlv.OperationDeriveKey:
		return true
	}
	return false
}

// authorizeItem applies separation of duties, then the role rules.
func (s *Service) authorizeItem(c Caller, op ttlv.Operation) *kmip.Error {
	if s.sod && sodRefuses(op) {
		return kmip.Errorf(ttlv.ResultReasonPermissionDenied, "%s is not permitted over KMIP in separation of duties mode; the administrator creates and destroys keys on the server", op)
	}
	return authorize(c, op)
}
