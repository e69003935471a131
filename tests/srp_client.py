"""A Cognito USER_SRP_AUTH client written from the protocol, for tests.

Deliberately independent of `inventory_cli.local.seam.cognito_srp` (the server side it checks):
its own constants, padding, hashing and key derivation, in the form AWS's client libraries
compute them (amazon-cognito-identity-js AuthenticationHelper; the SRP flow of the Amazon
Cognito Developer Guide, "User pool authentication flow").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# RFC 3526 3072-bit MODP prime, as the client libraries spell it.
_N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B"
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31"
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)
_G = 2
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _padded(n: int) -> bytes:
    """Big-endian bytes with a leading zero byte when the top bit is set (a positive number)."""
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


_K = _h(_padded(_N), _padded(_G))


def cognito_timestamp(moment: datetime) -> str:
    """Java's `EEE MMM d HH:mm:ss z yyyy` in English, UTC: day of month without a zero."""
    moment = moment.astimezone(UTC)
    return (f"{_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day} "
            f"{moment:%H:%M:%S} UTC {moment.year}")


@dataclass
class SrpClient:
    pool_id: str
    client_id: str
    small_a: int = field(default_factory=lambda: secrets.randbits(1024) % _N)

    @property
    def big_a(self) -> int:
        return pow(_G, self.small_a, _N)

    def signature(self, *, user_id: str, password: str, salt_hex: str, srp_b_hex: str,
                  secret_block: str, timestamp: str) -> str:
        big_b = int(srp_b_hex, 16)
        if big_b % _N == 0:
            raise ValueError("B is 0 mod N")
        u = _h(_padded(self.big_a), _padded(big_b))
        pool = self.pool_id.split("_", 1)[1]
        identity = hashlib.sha256(f"{pool}{user_id}:{password}".encode()).digest()
        x = _h(_padded(int(salt_hex, 16)), identity)
        shared = pow((big_b - _K * pow(_G, x, _N)) % _N, self.small_a + u * x, _N)
        prk = hmac.new(_padded(u), _padded(shared), hashlib.sha256).digest()
        key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
        message = (pool.encode() + user_id.encode() + base64.b64decode(secret_block)
                   + timestamp.encode())
        return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()

    def start(self, idp: Any, username: str) -> dict[str, Any]:
        answer: dict[str, Any] = idp.initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": username, "SRP_A": format(self.big_a, "x")})
        return answer

    def answer(self, idp: Any, challenge: dict[str, Any], password: str, *,
               timestamp: str | None = None) -> dict[str, Any]:
        params = challenge["ChallengeParameters"]
        stamp = timestamp or cognito_timestamp(datetime.now(UTC))
        signature = self.signature(
            user_id=params["USER_ID_FOR_SRP"], password=password, salt_hex=params["SALT"],
            srp_b_hex=params["SRP_B"], secret_block=params["SECRET_BLOCK"], timestamp=stamp)
        result: dict[str, Any] = idp.respond_to_auth_challenge(
            ClientId=self.client_id, ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={
                "USERNAME": params["USER_ID_FOR_SRP"], "TIMESTAMP": stamp,
                "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                "PASSWORD_CLAIM_SIGNATURE": signature})
        return result

    def sign_in(self, idp: Any, username: str, password: str) -> dict[str, Any]:
        return self.answer(idp, self.start(idp, username), password)
