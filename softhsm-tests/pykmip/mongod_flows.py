#!/usr/bin/python3
"""Drive a Strongroom server through mongod's (and Percona's) KMIP sequences
with Debian's PyKMIP 0.10 client.

Run with /usr/bin/python3 (the interpreter python3-pykmip is installed for).
Connection settings come from the variables deploy/dev/up.sh writes into
DIR/env (STRONGROOM_ADDR, STRONGROOM_SERVER_NAME, STRONGROOM_CA,
STRONGROOM_ADMIN_CERT, STRONGROOM_ADMIN_KEY) or from the options.

Prints one line per step, "PASS step" or "FAIL step: reason", and exits 1 if
any step failed. Key bytes are compared, never printed.

The sequences follow shared/docs/clients.md:
  first-start   Create AES-256 (usage Encrypt|Decrypt, no name) -> Get (Raw,
                32 bytes) -> Activate -> Get Attributes State = Active
  restart       on a new connection: Get -> Get Attributes State
  polling       3 fresh connections, each one Get Attributes State
  rotation      the old key is made Deactivated (Revoke, reason Cessation of
                Operation: mongod itself never revokes, this only sets up the
                state it may meet), Get of it still returns the same bytes,
                then a new key exactly as on first start
  percona       Register a client-made 32-byte AES key (Raw, mask 12, no
                name) -> Activate -> Get Attributes State -> Get = same bytes
  secret-data   Register 96 bytes of Secret Data (libmongocrypt) -> Get
  locate-*      Locate by Name and by Object Type
  destroy       Destroy, then Get fails with a KMIP error
"""

import argparse
import logging
import os
import re
import ssl
import sys
import uuid

from kmip.core import enums
from kmip.core.factories import attributes as attribute_factories
from kmip.pie import exceptions as pie_exceptions
from kmip.pie import objects
from kmip.pie.client import ProxyKmipClient
from kmip.services.kmip_client import KMIPProxy

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

# A lowercase UUID: mongod makes the UID a directory name, and the manual
# insists on lowercase.
UID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

MASK_ENCRYPT_DECRYPT = [
    enums.CryptographicUsageMask.ENCRYPT,
    enums.CryptographicUsageMask.DECRYPT,
]


class StepFailed(Exception):
    """A check inside a step did not hold."""


class VerifyingKMIPProxy(KMIPProxy):
    """KMIPProxy whose TLS checks the server's name, as mongod does.

    PyKMIP 0.10 connects with the deprecated ssl.wrap_socket, which verifies
    the chain but never the host name (and is gone in Python 3.12). This
    builds an SSLContext instead: TLS 1.2 or later, the CA file, our client
    certificate, and server_hostname = the server name, so the server
    certificate must carry it, exactly what mongod's kmipServerName needs.
    """

    def __init__(self, server_name, **kwargs):
        self.server_name = server_name
        super().__init__(**kwargs)

    def _create_socket(self, sock):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cafile=self.ca_certs)
        ctx.load_cert_chain(certfile=self.certfile, keyfile=self.keyfile)
        self.socket = ctx.wrap_socket(sock, server_hostname=self.server_name)
        self.socket.settimeout(self.timeout)


class Flows:
    def __init__(self, args):
        self.args = args
        host, _, port = args.addr.rpartition(":")
        if not host or not port.isdigit():
            raise SystemExit("--addr must be HOST:PORT, got %r" % args.addr)
        self.host, self.port = host, int(port)
        self.version = VERSIONS[args.kmip_version]
        self.attrs = attribute_factories.AttributeFactory()
        self.failed = 0
        # Results shared between steps; a step whose input is missing fails
        # with "needs ...", never silently passes.
        self.first_uid = None
        self.first_key = None
        self.secret_uid = None
        self.run_tag = uuid.uuid4().hex[:12]

    def client(self):
        """A new connection, as mongod opens one per task."""
        c = ProxyKmipClient(kmip_version=self.version, config_file=None)
        c.proxy = VerifyingKMIPProxy(
            server_name=self.args.server_name,
            host=self.host,
            port=self.port,
            certfile=self.args.cert,
            keyfile=self.args.key,
            ca_certs=self.args.ca,
            timeout=self.args.timeout,
            kmip_version=self.version,
        )
        return c

    # -- checks ---------------------------------------------------------

    @staticmethod
    def check(cond, reason):
        if not cond:
            raise StepFailed(reason)

    def check_uid(self, uid):
        self.check(isinstance(uid, str) and UID_RE.match(uid),
                   "unique identifier %r is not a lowercase UUID" % (uid,))

    def check_aes256(self, key):
        self.check(isinstance(key, objects.SymmetricKey),
                   "Get returned %s, want a Symmetric Key" % type(key).__name__)
        self.check(key.key_format_type == enums.KeyFormatType.RAW,
                   "key format %s, want Raw" % key.key_format_type)
        self.check(key.key_wrapping_data in (None, {}),
                   "key came back wrapped")
        self.check(key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES,
                   "algorithm %s, want AES" % key.cryptographic_algorithm)
        self.check(key.cryptographic_length == 256,
                   "length %s, want 256" % key.cryptographic_length)
        self.check(isinstance(key.value, bytes) and len(key.value) == 32,
                   "key material is %d bytes, want 32" % len(key.value or b""))

    def state_of(self, c, uid):
        got_uid, attrs = c.get_attributes(uid, ["State"])
        self.check(got_uid == uid, "Get Attributes answered for %r, asked %r" % (got_uid, uid))
        states = [a.attribute_value.value for a in attrs
                  if a.attribute_name.value == "State"]
        self.check(len(states) == 1, "Get Attributes returned %d State attributes, want 1"
                   % len(states))
        return states[0]

    def check_state(self, c, uid, want):
        got = self.state_of(c, uid)
        self.check(got == want, "State is %s, want %s" % (got, want))

    def create_like_mongod(self, c):
        """mongod's first start on one connection; returns (uid, key bytes)."""
        uid = c.create(enums.CryptographicAlgorithm.AES, 256,
                       cryptographic_usage_mask=MASK_ENCRYPT_DECRYPT)
        self.check_uid(uid)
        key = c.get(uid)  # Pre-Active here, no Key Format Type asked
        self.check_aes256(key)
        c.activate(uid)
        self.check_state(c, uid, enums.State.ACTIVE)
        return uid, key.value

    # -- steps ----------------------------------------------------------

    def step_first_start(self):
        with self.client() as c:
            self.first_uid, self.first_key = self.create_like_mongod(c)

    def needs_first(self):
        self.check(self.first_uid is not None, "needs first-start")

    def step_restart(self):
        self.needs_first()
        with self.client() as c:
            key = c.get(self.first_uid)
            self.check_aes256(key)
            self.check(key.value == self.first_key, "Get returned other key bytes than on first start")
            self.check_state(c, self.first_uid, enums.State.ACTIVE)

    def step_polling(self):
        self.needs_first()
        for _ in range(3):
            with self.client() as c:
                self.check_state(c, self.first_uid, enums.State.ACTIVE)

    def step_rotation(self):
        self.needs_first()
        with self.client() as c:
            c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, self.first_uid,
                     revocation_message="rotated by the end-to-end test")
            self.check_state(c, self.first_uid, enums.State.DEACTIVATED)
        # mongod --kmipRotateMasterKey: Get(old) with no state check, then a
        # new key as on first start, on one connection.
        with self.client() as c:
            old = c.get(self.first_uid)
            self.check_aes256(old)
            self.check(old.value == self.first_key, "Get of the Deactivated key returned other bytes")
            new_uid, new_key = self.create_like_mongod(c)
            self.check(new_uid != self.first_uid, "the new key has the old key's identifier")
            self.check(new_key != self.first_key, "the new key has the old key's bytes")

    def step_percona(self):
        material = os.urandom(32)
        key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, material,
                                   masks=MASK_ENCRYPT_DECRYPT)
        key.names = []  # Percona sends no Name
        with self.client() as c:
            uid = c.register(key)
            self.check_uid(uid)
            c.activate(uid)
        with self.client() as c:
            self.check_state(c, uid, enums.State.ACTIVE)
            got = c.get(uid)
            self.check_aes256(got)
            self.check(got.value == material, "Get returned other bytes than were registered")

    def step_secret_data(self):
        material = os.urandom(96)
        secret = objects.SecretData(material, enums.SecretDataType.SEED,
                                    name="strongroom-e2e-%s" % self.run_tag)
        # libmongocrypt sends no usage mask; PyKMIP would otherwise send 0.
        secret.cryptographic_usage_masks = None
        with self.client() as c:
            uid = c.register(secret)
            self.check_uid(uid)
            got = c.get(uid)
            self.check(isinstance(got, objects.SecretData),
                       "Get returned %s, want Secret Data" % type(got).__name__)
            self.check(got.value == material, "Get returned other bytes than were registered")
        self.secret_uid = uid

    def step_locate_by_name(self):
        self.check(self.secret_uid is not None, "needs secret-data")
        name = self.attrs.create_attribute(enums.AttributeType.NAME,
                                           "strongroom-e2e-%s" % self.run_tag)
        with self.client() as c:
            uids = c.locate(attributes=[name])
        self.check(uids == [self.secret_uid],
                   "Locate by Name found %d objects, want exactly the registered one" % len(uids))

    def step_locate_by_type(self):
        self.needs_first()
        self.check(self.secret_uid is not None, "needs secret-data")
        def by_type(c, t):
            return c.locate(attributes=[self.attrs.create_attribute(
                enums.AttributeType.OBJECT_TYPE, t)])
        with self.client() as c:
            keys = by_type(c, enums.ObjectType.SYMMETRIC_KEY)
            secrets = by_type(c, enums.ObjectType.SECRET_DATA)
        self.check(self.first_uid in keys, "Locate Symmetric Key misses the first-start key")
        self.check(self.secret_uid not in keys, "Locate Symmetric Key returned Secret Data")
        self.check(self.secret_uid in secrets, "Locate Secret Data misses the registered secret")
        self.check(self.first_uid not in secrets, "Locate Secret Data returned a symmetric key")

    def step_destroy(self):
        with self.client() as c:
            uid = c.create(enums.CryptographicAlgorithm.AES, 256,
                           cryptographic_usage_mask=MASK_ENCRYPT_DECRYPT)
            c.destroy(uid)  # Pre-Active: destroyable without a Revoke
        with self.client() as c:
            try:
                c.get(uid)
            except pie_exceptions.KmipOperationFailure as e:
                self.check(e.status == enums.ResultStatus.OPERATION_FAILED,
                           "Get of a destroyed key: status %s" % e.status)
                return
            raise StepFailed("Get of a destroyed key succeeded")

    STEPS = [
        ("first-start", step_first_start),
        ("restart", step_restart),
        ("polling", step_polling),
        ("rotation", step_rotation),
        ("percona", step_percona),
        ("secret-data", step_secret_data),
        ("locate-by-name", step_locate_by_name),
        ("locate-by-type", step_locate_by_type),
        ("destroy", step_destroy),
    ]

    def run(self, only=None):
        for name, fn in self.STEPS:
            if only and name not in only:
                continue
            try:
                fn(self)
            except StepFailed as e:
                self.fail(name, str(e))
            except pie_exceptions.KmipOperationFailure as e:
                self.fail(name, "KMIP error: status %s, reason %s, message %r"
                          % (e.status, e.reason, e.message))
            except Exception as e:  # connection, TLS or decoding trouble
                self.fail(name, "%s: %s" % (type(e).__name__, e))
            else:
                print("PASS %s" % name, flush=True)
        return 1 if self.failed else 0

    def fail(self, name, reason):
        self.failed += 1
        print("FAIL %s: %s" % (name, reason), flush=True)


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(
        description="Run mongod's KMIP sequences against Strongroom with PyKMIP.",
        epilog="Defaults come from DIR/env of deploy/dev/up.sh. Steps: "
               + ", ".join(n for n, _ in Flows.STEPS) + ".")
    p.add_argument("--kmip-version", required=True, choices=sorted(VERSIONS),
                   help="protocol version of every request")
    p.add_argument("--addr", default=env("STRONGROOM_ADDR"),
                   help="HOST:PORT (default $STRONGROOM_ADDR)")
    p.add_argument("--server-name", default=env("STRONGROOM_SERVER_NAME", "akmmongo"),
                   help="name the server certificate must carry, as mongod's "
                        "--kmipServerName (default $STRONGROOM_SERVER_NAME)")
    p.add_argument("--ca", default=env("STRONGROOM_CA"), help="CA certificate (default $STRONGROOM_CA)")
    p.add_argument("--cert", default=env("STRONGROOM_ADMIN_CERT"),
                   help="client certificate; mongod uses the Crypto Officer's "
                        "(default $STRONGROOM_ADMIN_CERT)")
    p.add_argument("--key", default=env("STRONGROOM_ADMIN_KEY"),
                   help="client private key (default $STRONGROOM_ADMIN_KEY)")
    p.add_argument("--timeout", type=int, default=30, help="socket timeout in seconds")
    p.add_argument("--step", action="append", choices=[n for n, _ in Flows.STEPS],
                   help="run only this step (repeatable; later steps may need earlier ones)")
    args = p.parse_args(argv)
    missing = [o for o, v in (("--addr", args.addr), ("--ca", args.ca), ("--cert", args.cert),
                              ("--key", args.key)) if not v]
    if missing:
        p.error("missing %s (or the STRONGROOM_* variables from DIR/env)" % ", ".join(missing))
    return args


def main(argv):
    args = parse_args(argv)
    # PyKMIP logs a warning whenever it finds no configuration file (its
    # config helper forces its own logger to INFO), and its errors repeat
    # what we print: keep the output to our step lines.
    logging.disable(logging.CRITICAL)
    return Flows(args).run(only=args.step)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
