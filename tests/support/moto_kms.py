"""Launch moto's server with its KMS Sign/Verify corrected to behave like AWS.

moto 5.2.5 differs from AWS KMS in two ways that matter to Signet:

1. it ignores MessageType: a DIGEST request is hashed again, so the signature covers
   SHA-256(digest) instead of the digest itself (AWS treats the message as the
   pre-computed hash, `Prehashed` in `cryptography`);
2. its RSA-PSS signatures use the maximum salt length; AWS (and JWS, RFC 7518
   section 3.5) use a salt as long as the hash.

Signet's signer follows AWS. Rather than bend the signer to the emulator, this
launcher patches the emulator, says so on stderr, and
tests/integration/test_moto_launcher.py fails if either correction goes missing.

Usage: python -m tests.support.moto_kms --port 5000
"""

from __future__ import annotations

import argparse
import sys
import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from moto.kms import responses as kms_responses
from moto.kms import utils as kms_utils
from moto.kms.exceptions import ValidationException

_request = threading.local()  # moto's server handles each request on its own thread

_HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}


def _hash_for(signing_algorithm: str) -> hashes.HashAlgorithm:
    return _HASHES[signing_algorithm[-7:]]()


def _message_hash(message: bytes, signing_algorithm: str) -> hashes.HashAlgorithm | utils.Prehashed:
    """The hash argument for `cryptography`: Prehashed when the caller sent a DIGEST."""
    algorithm = _hash_for(signing_algorithm)
    if not getattr(_request, "digest", False):
        return algorithm
    if len(message) != algorithm.digest_size:
        raise ValidationException(
            f"Digest is invalid length for algorithm {signing_algorithm}.")
    return utils.Prehashed(algorithm)


def _rsa_padding(signing_algorithm: str) -> padding.AsymmetricPadding:
    if signing_algorithm.startswith("RSASSA_PSS"):
        algorithm = _hash_for(signing_algorithm)
        return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
    return padding.PKCS1v15()


def _rsa_sign(self: kms_utils.RSAPrivateKey, message: bytes, signing_algorithm: str) -> bytes:
    kms_utils.validate_signing_algorithm(
        signing_algorithm, kms_utils.SigningAlgorithm.rsa_signing_algorithms())
    return self.private_key.sign(message, _rsa_padding(signing_algorithm),
                                 _message_hash(message, signing_algorithm))


def _rsa_verify(self: kms_utils.RSAPrivateKey, message: bytes, signature: bytes,
                signing_algorithm: str) -> bool:
    kms_utils.validate_signing_algorithm(
        signing_algorithm, kms_utils.SigningAlgorithm.rsa_signing_algorithms())
    try:
        self.private_key.public_key().verify(signature, message, _rsa_padding(signing_algorithm),
                                             _message_hash(message, signing_algorithm))
    except InvalidSignature:
        return False
    return True


def _ec_sign(self: kms_utils.ECDSAPrivateKey, message: bytes, signing_algorithm: str) -> bytes:
    kms_utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    return self.private_key.sign(message, ec.ECDSA(_message_hash(message, signing_algorithm)))


def _ec_verify(self: kms_utils.ECDSAPrivateKey, message: bytes, signature: bytes,
               signing_algorithm: str) -> bool:
    kms_utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    try:
        self.private_key.public_key().verify(
            signature, message, ec.ECDSA(_message_hash(message, signing_algorithm)))
    except InvalidSignature:
        return False
    return True


def _with_message_type(handler):  # type: ignore[no-untyped-def]
    def wrapped(self: kms_responses.KmsResponse) -> str:
        _request.digest = self._get_param("MessageType") == "DIGEST"
        try:
            return str(handler(self))
        finally:
            _request.digest = False

    return wrapped


def apply_corrections() -> None:
    """Patch moto in this process. Idempotent."""
    if getattr(kms_responses.KmsResponse, "_signet_corrected", False):
        return
    kms_responses.KmsResponse.sign = _with_message_type(kms_responses.KmsResponse.sign)
    kms_responses.KmsResponse.verify = _with_message_type(kms_responses.KmsResponse.verify)
    kms_utils.RSAPrivateKey.sign = _rsa_sign
    kms_utils.RSAPrivateKey.verify = _rsa_verify
    kms_utils.ECDSAPrivateKey.sign = _ec_sign
    kms_utils.ECDSAPrivateKey.verify = _ec_verify
    kms_responses.KmsResponse._signet_corrected = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uncorrected", action="store_true",
                        help="run stock moto (only to show why the corrections exist)")
    args = parser.parse_args()
    if args.uncorrected:
        print("moto_kms: running STOCK moto: KMS DIGEST and PSS salt differ from AWS",
              file=sys.stderr, flush=True)
    else:
        apply_corrections()
        print("moto_kms: PATCHED moto KMS to match AWS: MessageType=DIGEST is a pre-computed"
              " hash; RSA-PSS salt length = hash length", file=sys.stderr, flush=True)
    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
