package ops

import (
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// authorize applies the role rules of the appliance manual (chapter 3):
// Crypto Officers create, manage and retrieve; key clients retrieve and use;
// auditors and certificates without a role may only discover the protocol
// and query the server.
func authorize(c Caller, op ttlv.Operation) *kmip.Error {
	switch op {
	case ttlv.OperationDiscoverVersions, ttlv.OperationQuery:
		return nil
	case ttlv.OperationGet, ttlv.OperationGetAttributes, ttlv.OperationGetAttributeList, ttlv.OperationLocate,
		// Using keys (inside the HSM) is what key clients are for.
		ttlv.OperationEncrypt, ttlv.OperationDecrypt, ttlv.OperationSign, ttlv.OperationSignatureVerify,
		ttlv.OperationMAC, ttlv.OperationMACVerify, ttlv.OperationHash, ttlv.OperationRNGRetrieve:
		if c.Role == RoleCryptoOfficer || c.Role == RoleKeyClient {
			return nil
		}
	default:
		if c.Role == RoleCryptoOfficer {
			return nil
		}
	}
	return kmip.Errorf(ttlv.ResultReasonPermissionDenied, "%s is not permitted for this client", op)
}
