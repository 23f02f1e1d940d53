package ops

import "github.com/strongroom/strongroom/kmip/ttlv"

// registerOperations lists every operation Strongroom implements, in the
// order Query reports them: one line per operation, whose handler lives in
// the file named after it.
func (s *Service) registerOperations() {
	s.handle(ttlv.OperationCreate, s.create)
	s.handle(ttlv.OperationRegister, s.register)
	s.handle(ttlv.OperationLocate, s.locate)
	s.handle(ttlv.OperationGet, s.get)
	s.handle(ttlv.OperationGetAttributes, s.getAttributes)
	s.handle(ttlv.OperationGetAttributeList, s.getAttributeList)
	s.handle(ttlv.OperationActivate, s.activate)
	s.handle(ttlv.OperationRevoke, s.revoke)
	s.handle(ttlv.OperationDestroy, s.destroy)
	s.handle(ttlv.OperationQuery, s.query)
	s.handle(ttlv.OperationDiscoverVersions, s.discoverVersions)
}

// handle registers one operation's handler.
func (s *Service) handle(op ttlv.Operation, h handlerFunc) {
	s.handlers[op] = h
	s.implemented = append(s.implemented, op)
}
