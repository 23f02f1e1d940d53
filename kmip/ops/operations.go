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
	s.handle(ttlv.OperationAddAttribute, s.addAttribute)
	s.handle(ttlv.OperationModifyAttribute, s.modifyAttribute)
	s.handle(ttlv.OperationDeleteAttribute, s.deleteAttribute)
	s.handle(ttlv.OperationSetAttribute, s.setAttribute)
	s.handle(ttlv.OperationAdjustAttribute, s.adjustAttribute)
	s.handle(ttlv.OperationCheck, s.check)
	s.handle(ttlv.OperationArchive, s.archive)
	s.handle(ttlv.OperationRecover, s.recoverObject)
	s.handle(ttlv.OperationInterop, s.interop)
	s.handle(ttlv.OperationLog, s.logMessage)
	s.handle(ttlv.OperationCreateKeyPair, s.createKeyPair)
	s.handle(ttlv.OperationEncrypt, s.encrypt)
	s.handle(ttlv.OperationDecrypt, s.decrypt)
	s.handle(ttlv.OperationSign, s.sign)
	s.handle(ttlv.OperationSignatureVerify, s.signatureVerify)
	s.handle(ttlv.OperationMAC, s.mac)
	s.handle(ttlv.OperationMACVerify, s.macVerify)
	s.handle(ttlv.OperationHash, s.hash)
	s.handle(ttlv.OperationRNGRetrieve, s.rngRetrieve)
	s.handle(ttlv.OperationRNGSeed, s.rngSeed)
	s.handle(ttlv.OperationReKey, s.reKey)
}

// handle registers one operation's handler.
func (s *Service) handle(op ttlv.Operation, h handlerFunc) {
	s.handlers[op] = h
	s.implemented = append(s.implemented, op)
}
