// Package conformance replays KMIP test cases in the OASIS XML format (the
// files of the KMIP Profiles specifications, ../shared/kmip-vectors) against
// a running server and reports, per file, PASS or the first difference.
//
// A file is a sequence of RequestMessage and ResponseMessage elements. The
// runner opens one connection per file, sends each request as written (so
// in the file's protocol version, with its own header fields) after
// substituting placeholders, and compares the response with the expected
// one field by field, in order.
//
// # Placeholders
//
// "$NAME" values (UNIQUE_IDENTIFIER_n, SHORT_UNIQUE_IDENTIFIER_n, DATA_n,
// KEY_MATERIAL_n, KEY_VALUE_n, IV_COUNTER_NONCE, AUTHENTICATED_ENCRYPTION_TAG,
// CORRELATION_VALUE, SIGNATURE_DATA, MAC_DATA, or any other name of the same
// form) in an expected response match any value of the item's type the first
// time and capture it; later occurrences, in responses or requests, stand for
// the captured value and must equal it. $NOW, $NOW-s and $NOW+s are the
// current time (± s seconds) in requests and match any time in responses
// (the server's clock is not judged). A name a request uses before any
// response captured it takes the last value of the same tag in a response:
// the KMIP 1.4 cases show some server-chosen values as literals and name
// them only in the next request (CS-BC-M-13-14: $DATA_0 and
// $IV_COUNTER_NONCE after an Encrypt with a random IV; CS-AC-M-6-14:
// $MAC_DATA after a MAC).
//
// # Accepted differences
//
// Besides placeholders, exactly these (variations.go), each because the
// specifications leave the value or its presence to the server:
//   - the Time Stamp of the response header;
//   - the Server Correlation Value of the response header (optional and
//     server-chosen; the 2.1 cases show one server's literals), present or
//     not; a Client Correlation Value in the response header if it echoes
//     the request's;
//   - the Result Message of a batch item (optional free text), present or
//     not, any text; the Result Status and Result Reason must match;
//   - Located Items in a Locate response ("MAY include"), present or not;
//   - for an object whose key material the server generated (Create, Create
//     Key Pair, Re-key, Re-key Key Pair, Create Split Key, Certify,
//     Re-certify, in this file or an earlier file of the run): everything
//     inside its Key Value (same length for symmetric keys, secret data and
//     split keys; any length for asymmetric keys, whose encodings vary), its
//     Digest Value (same length), and the MAC Data of a MAC under it;
//   - Encrypt: when the request gave no IV and the expected response returns
//     one, the IV/Counter/Nonce, the Data and the Authenticated Encryption
//     Tag (same lengths); with a public or private key, an RSA algorithm or
//     a generated key, the Data and tag (same lengths), since such
//     encryption is randomized or under another key;
//   - Sign: the Signature Data of RSA-PSS (same length), ECDSA or DSA (any
//     length: DER) signatures, and of signatures under a generated key;
//   - RNG Retrieve: the Data (same length);
//   - Get Attributes: the content of the Random Number Generator attribute,
//     which describes the server's generator (the cases show one server's
//     ANSI X9.31 AES-256); the attribute itself must be there;
//   - Query: the Vendor Identification and the content of Server
//     Information; the lists in any order, and the server may list more
//     (operations, object types, ...) than the case, which shows what the
//     profile needs.
//
// Order: Get Attributes (1.x Attribute items, 2.x children of Attributes),
// Get Attribute List (names or references) and Locate without Offset Items
// or Maximum Items (identifiers) are compared as sets, since no
// specification fixes their order and the cases list one server's order.
// Everything else, including which attributes Get Attributes returns and
// every value of a key the client registered, must match.
//
// Files share one server. When a file fails, the runner revokes and
// destroys the objects it captured or made (unless Runner.KeepOnFailure),
// so that its leftovers do not change later results; a file that passes may
// leave objects for the next one (TL-M-3 uses the key TL-M-2 created).
// Which objects the server generated is remembered across the files of a run.
//
// Output never shows received key material: values inside a received Key
// Value print as their length. Byte Strings longer than 64 bytes are cut.
package conformance
