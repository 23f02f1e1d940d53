package kmip

import "github.com/strongroom/strongroom/kmip/ttlv"

// ReasonIn returns the Result Reason to send a client of version v for r:
// r itself if v defines it, else the nearest reason v has. KMIP 2.0 added
// most reasons (Object Not Found, Wrong Key Lifecycle State, Attribute Read
// Only, ...), and 1.1 to 1.4 added a few; a client must never receive a
// value its version does not define (its parser may reject the whole
// message). Handlers choose the per-version reason where the spec names
// one; this is the net for every other path, applied when a response is
// encoded.
func ReasonIn(v ProtocolVersion, r ttlv.ResultReason) ttlv.ResultReason {
	for range 3 { // a fallback may itself be newer than v (at most twice)
		info, ok := ttlv.EnumValueInfo(ttlv.TagResultReason, uint32(r))
		if !ok || info.InVersion(ttlv.Version{Major: int(v.Major), Minor: int(v.Minor)}) {
			return r
		}
		next, ok := olderReason[r]
		if !ok {
			next = ttlv.ResultReasonInvalidField
		}
		r = next
	}
	return ttlv.ResultReasonGeneralFailure
}

// olderReason maps reasons added after 1.0 to the closest reason of the
// version before them, following the choices the 1.x specifications make
// for the same conditions (a lifecycle or usage refusal is Permission
// Denied, a missing object Item Not Found). Unlisted reasons become
// Invalid Field (ReasonIn): most of them name a bad value in the request.
var olderReason = map[ttlv.ResultReason]ttlv.ResultReason{
	ttlv.ResultReasonObjectNotFound:                      ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonObjectDestroyed:                     ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonWrappingObjectNotFound:              ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonWrappingObjectDestroyed:             ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonAttributeNotFound:                   ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonAttributeInstanceNotFound:           ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonUnknownObjectGroup:                  ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonKeyValueNotPresent:                  ttlv.ResultReasonItemNotFound,
	ttlv.ResultReasonWrappingObjectArchived:              ttlv.ResultReasonObjectArchived,
	ttlv.ResultReasonWrongKeyLifecycleState:              ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonIncompatibleCryptographicUsageMask:  ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonUsageLimitExceeded:                  ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonNotAuthorised:                       ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonAttributeReadOnly:                   ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonReadOnlyAttribute:                   ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonSensitive:                           ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonNotExtractable:                      ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonAttestationRequired:                 ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonAttestationFailed:                   ttlv.ResultReasonPermissionDenied,
	ttlv.ResultReasonKeyWrapTypeNotSupported:             ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonUnsupportedAttribute:                ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonUnsupportedCryptographicParameters:  ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonEncodingOptionError:                 ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonProtectionStorageUnavailable:        ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonPrivateProtectionStorageUnavailable: ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonPublicProtectionStorageUnavailable:  ttlv.ResultReasonFeatureNotSupported,
	ttlv.ResultReasonUnsupportedProtocolVersion:          ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonCodecError:                          ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonUnknownTag:                          ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonUnknownEnumeration:                  ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonUnknownMessageExtension:             ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonInvalidDataType:                     ttlv.ResultReasonInvalidMessage,
	ttlv.ResultReasonInternalServerError:                 ttlv.ResultReasonGeneralFailure,
	ttlv.ResultReasonServerLimitExceeded:                 ttlv.ResultReasonGeneralFailure,
	ttlv.ResultReasonObjectAlreadyExists:                 ttlv.ResultReasonInvalidField,
}
