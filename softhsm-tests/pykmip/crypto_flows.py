#!/usr/bin/python3
"""Drive Strongroom's cryptographic operations with Debian's PyKMIP 0.10
client: Encrypt/Decrypt, Sign/Signature Verify and MAC, all of which the
server runs inside the HSM.

Run with /usr/bin/python3. Connection settings as for mongod_flows.py (the
variables of deploy/dev/up.sh's DIR/env, or the options). Prints one line
per step, "PASS step" or "FAIL step: reason", and exits 1 if any failed.
Key bytes are compared, never printed.

Steps:
  encrypt-default  mongod's audit-log encryption: Encrypt 32 bytes with no
                   Cryptographic Parameters (the server picks AES-CBC with
                   PKCS#5 padding and returns the IV it generated), Decrypt
                   with that IV
  encrypt-cbc      AES-CBC/PKCS5 with the client's IV; the ciphertext equals
                   the `cryptography` library's for the same key
  sign-verify      Create Key Pair (RSA-2048, in the HSM), Sign with PSS and
                   SHA-256, Signature Verify: Valid, then Invalid for other
                   data; the signature also verifies with `cryptography`
  mac              HMAC-SHA256 key: MAC equals Python's hmac for the key
"""

import hashlib
import hmac
import logging
import os
import sys

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import padding as sym_padding
from kmip.core import enums
from kmip.pie import exceptions as pie_exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mongod_flows  # noqa: E402  (the TLS client and argument parsing)

MASK_ED = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]
DATA = bytes(range(32))


class CryptoFlows(mongod_flows.Flows):
    def new_aes(self, c):
        uid = c.create(enums.CryptographicAlgorithm.AES, 256, cryptographic_usage_mask=MASK_ED)
        self.check_uid(uid)
        c.activate(uid)
        return uid

    def step_encrypt_default(self):
        with self.client() as c:
            uid = self.new_aes(c)
            ct, iv = c.encrypt(DATA, uid=uid)
            self.check(iv is not None and len(iv) == 16,
                       "no 16-byte server IV in the response (got %r bytes)" % (len(iv) if iv else None))
            self.check(len(ct) == 48, "ciphertext is %d bytes, want 48 (CBC, PKCS#5)" % len(ct))
            ct2, iv2 = c.encrypt(DATA, uid=uid)
            self.check(iv2 != iv and ct2 != ct, "two encryptions reused the IV")
            pt = c.decrypt(ct, uid=uid, iv_counter_nonce=iv)
            self.check(pt == DATA, "Decrypt did not give the plaintext back")

    def step_encrypt_cbc(self):
        with self.client() as c:
            uid = self.new_aes(c)
            params = {"block_cipher_mode": enums.BlockCipherMode.CBC,
                      "padding_method": enums.PaddingMethod.PKCS5,
                      "cryptographic_algorithm": enums.CryptographicAlgorithm.AES}
            iv = os.urandom(16)
            ct, _ = c.encrypt(DATA[:20], uid=uid, cryptographic_parameters=params, iv_counter_nonce=iv)
            key = c.get(uid).value
            padder = sym_padding.PKCS7(128).padder()
            enc = Cipher(algorithms.AES(key), modes.CBC(iv), backend=default_backend()).encryptor()
            want = enc.update(padder.update(DATA[:20]) + padder.finalize()) + enc.finalize()
            self.check(ct == want, "ciphertext differs from the cryptography library's")
            pt = c.decrypt(ct, uid=uid, cryptographic_parameters=params, iv_counter_nonce=iv)
            self.check(pt == DATA[:20], "Decrypt did not give the plaintext back")

    def step_sign_verify(self):
        with self.client() as c:
            pub, priv = c.create_key_pair(
                enums.CryptographicAlgorithm.RSA, 2048,
                public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
                private_usage_mask=[enums.CryptographicUsageMask.SIGN])
            self.check_uid(pub)
            self.check_uid(priv)
            c.activate(priv)
            c.activate(pub)
            params = {"cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
                      "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
                      "padding_method": enums.PaddingMethod.PSS}
            sig = c.sign(DATA, uid=priv, cryptographic_parameters=params)
            self.check(isinstance(sig, bytes) and len(sig) == 256, "signature is not 256 bytes")
            v = c.signature_verify(DATA, sig, uid=pub, cryptographic_parameters=params)
            self.check(v == enums.ValidityIndicator.VALID, "Signature Verify said %s, want Valid" % v)
            v = c.signature_verify(DATA[::-1], sig, uid=pub, cryptographic_parameters=params)
            self.check(v == enums.ValidityIndicator.INVALID, "Signature Verify of other data said %s" % v)
            der = c.get(pub).value  # PKCS#1 RSAPublicKey
            key = serialization.load_der_public_key(_spki_from_pkcs1(der), backend=default_backend())
            key.verify(sig, DATA, asym_padding.PSS(mgf=asym_padding.MGF1(hashes.SHA256()),
                                                   salt_length=asym_padding.PSS.MAX_LENGTH),
                       hashes.SHA256())

    def step_mac(self):
        with self.client() as c:
            uid = c.create(enums.CryptographicAlgorithm.HMAC_SHA256, 256,
                           cryptographic_usage_mask=[enums.CryptographicUsageMask.MAC_GENERATE,
                                                     enums.CryptographicUsageMask.MAC_VERIFY])
            self.check_uid(uid)
            c.activate(uid)
            got_uid, mac = c.mac(DATA, uid=uid, algorithm=enums.CryptographicAlgorithm.HMAC_SHA256)
            self.check(got_uid == uid, "MAC answered for %r" % (got_uid,))
            key = c.get(uid).value
            want = hmac.new(key, DATA, hashlib.sha256).digest()
            self.check(hmac.compare_digest(mac, want), "MAC differs from Python's HMAC-SHA256")

    STEPS = [
        ("encrypt-default", step_encrypt_default),
        ("encrypt-cbc", step_encrypt_cbc),
        ("sign-verify", step_sign_verify),
        ("mac", step_mac),
    ]


def _spki_from_pkcs1(der):
    """Wrap a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo."""
    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            head = bytes([n])
        else:
            b = n.to_bytes((n.bit_length() + 7) // 8, "big")
            head = bytes([0x80 | len(b)]) + b
        return bytes([tag]) + head + body
    alg = bytes.fromhex("300d06092a864886f70d0101010500")
    return tlv(0x30, alg + tlv(0x03, b"\x00" + der))


def main(argv):
    mongod_flows.Flows.STEPS = CryptoFlows.STEPS
    args = mongod_flows.parse_args(argv)
    logging.disable(logging.CRITICAL)
    return CryptoFlows(args).run(only=args.step)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
