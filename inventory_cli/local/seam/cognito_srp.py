"""Cognito user pools in moto: the server side of SRP sign-in, verified for real.

moto 5.2.5 answers `InitiateAuth` USER_SRP_AUTH with random SALT and SRP_B and accepts any
PASSWORD_CLAIM_SIGNATURE in `RespondToAuthChallenge` PASSWORD_VERIFIER, so a wrong password
signs in. Here the emulator plays Cognito's part of SRP-6a as Cognito's client libraries expect
it (Amazon Cognito Developer Guide, "User pool authentication flow", the SRP flow; the constants
and encodings are those of AWS's own client, amazon-cognito-identity-js AuthenticationHelper):

- the 3072-bit group of RFC 3526 (`N`), `g = 2`, `k = H(pad(N) | pad(g))`, SHA-256 hashes of
  hex-padded big integers, `x = H(pad(salt) | H(poolName | userId | ":" | password))`;
- InitiateAuth keeps what moto answered (session, user checks) but sends a real `B = k·v + g^b`
  with a fresh salt and a SECRET_BLOCK (base64, as the client libraries decode it);
- RespondToAuthChallenge PASSWORD_VERIFIER computes `S = (A·v^u)^b`, the 16-byte key
  HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key") and compares the
  client's HMAC-SHA256 of `poolName | userId | secretBlock | TIMESTAMP` with its own. A wrong
  password is NotAuthorizedException "Incorrect username or password." as on AWS; a TIMESTAMP
  not in Cognito's format ("Tue Dec 3 07:27:04 UTC 2026", Java's `EEE MMM d HH:mm:ss z yyyy`)
  is InvalidParameterException. A challenge answers once: a wrong signature ends it.
- A client with PreventUserExistenceErrors ENABLED (Amazon Cognito Developer Guide, "Managing
  error responses") gets a challenge for an unknown user too, refused at the signature with the
  same message as a wrong password, so the sign-in form cannot be used to find out who exists.
- `RevokeToken` (a signed-in page's sign-out), which moto lacks: the refresh token stops
  working for REFRESH_TOKEN_AUTH (Amazon Cognito API Reference, RevokeToken).

The password is what moto keeps for the user (the temporary one until NEW_PASSWORD_REQUIRED
sets another); the verifier is derived from it per challenge, so a password changed by
`AdminSetUserPassword` takes effect at the next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

# RFC 3526, 3072-bit MODP group; the modulus Cognito's SRP uses.
N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"
WRONG_PASSWORD = "Incorrect username or password."
TIMESTAMP_FORMAT_ERROR = "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english."
_TIMESTAMP = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9]|0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] UTC [0-9]{4}")


def pad_hex(value: int | str) -> str:
    """A non-negative integer as even-length hex that does not read as negative (a leading
    "00" when the first digit is 8-f), the form every SRP hash takes its input in."""
    text = value if isinstance(value, str) else format(value, "x")
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdefABCDEF" else text


def hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hex_hash(pad_hex(N_HEX) + pad_hex(G)), 16)


def pool_name(pool_id: str) -> str:
    """The part of a user pool id after the region ("us-east-1_AbC" -> "AbC")."""
    return pool_id.partition("_")[2]


def password_hash(pool_id: str, user_id: str, password: str, salt_hex: str) -> int:
    """x = H(pad(salt) | H(poolName | userId | ":" | password))."""
    inner = hashlib.sha256(f"{pool_name(pool_id)}{user_id}:{password}".encode()).hexdigest()
    return int(hex_hash(pad_hex(salt_hex) + inner), 16)


def scrambler(big_a: int, big_b: int) -> int:
    """u = H(pad(A) | pad(B))."""
    return int(hex_hash(pad_hex(big_a) + pad_hex(big_b)), 16)


def derived_key(shared: int, u: int) -> bytes:
    """HKDF-SHA256 with salt pad(u) and info "Caldera Derived Key", the first 16 bytes."""
    prk = hmac.new(bytes.fromhex(pad_hex(u)), bytes.fromhex(pad_hex(shared)), hashlib.sha256)
    return hmac.new(prk.digest(), INFO + b"\x01", hashlib.sha256).digest()[:16]


def claim_signature(key: bytes, pool_id: str, user_id: str, secret_block: str,
                    timestamp: str) -> str:
    message = (pool_name(pool_id).encode() + user_id.encode()
               + base64.standard_b64decode(secret_block) + timestamp.encode())
    return base64.standard_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Challenge:
    """One PASSWORD_VERIFIER challenge, as the server keeps it until it is answered."""

    pool_id: str
    client_id: str
    username: str  # as the client typed it (moto finds the user by it)
    user_id: str  # USER_ID_FOR_SRP
    big_a: int
    small_b: int
    big_b: int
    verifier: int  # v = g^x; for an unknown user, a random one no password matches


def new_challenge(*, pool_id: str, client_id: str, username: str, user_id: str,
                  password: str | None, srp_a_hex: str) -> tuple[Challenge, str]:
    """The server's half for client value A: the challenge and the salt (hex) it used."""
    try:
        big_a = int(srp_a_hex, 16)
    except ValueError:
        big_a = 0
    if big_a % N == 0:
        # The protocol's safety check: A = 0 (mod N) would make the key predictable.
        from moto.cognitoidp.exceptions import InvalidParameterException

        raise InvalidParameterException("SRP_A is invalid.")
    # A salt whose hex has no leading zero: client libraries read SALT as a number
    # (amazon-cognito-identity-js) or as text (pycognito), and pad it alike only then.
    salt_hex = format(secrets.randbits(128) | (1 << 127), "x")
    if password is None:
        verifier = secrets.randbelow(N - 2) + 2
    else:
        verifier = pow(G, password_hash(pool_id, user_id, password, salt_hex), N)
    while True:
        small_b = secrets.randbits(1024)
        big_b = (K * verifier + pow(G, small_b, N)) % N
        if big_b and scrambler(big_a, big_b):
            break
    return Challenge(pool_id=pool_id, client_id=client_id, username=username, user_id=user_id,
                     big_a=big_a, small_b=small_b, big_b=big_b, verifier=verifier), salt_hex


def expected_signature(challenge: Challenge, secret_block: str, timestamp: str) -> str:
    u = scrambler(challenge.big_a, challenge.big_b)
    shared = pow(challenge.big_a * pow(challenge.verifier, u, N), challenge.small_b, N)
    return claim_signature(derived_key(shared, u), challenge.pool_id, challenge.user_id,
                           secret_block, timestamp)


# -- the moto patches ---------------------------------------------------------------------------

_lock = threading.Lock()


def _challenges(backend: Any) -> dict[str, Challenge]:
    """Open challenges of a moto Cognito IdP backend, by SECRET_BLOCK."""
    with _lock:
        store: dict[str, Challenge] | None = getattr(backend, "_inventory_srp", None)
        if store is None:
            store = {}
            backend._inventory_srp = store
        return store


def _client_of(backend: Any, client_id: str) -> tuple[Any, Any]:
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool, pool.clients[client_id]
    return None, None


def install() -> None:
    _install_srp_verification()
    _install_revoke_token()


def _decoy(backend: Any, client_id: str, username: str, srp_a: str) -> dict[str, Any] | None:
    """For an unknown user of a client that prevents user existence errors: a challenge no
    password answers (refused like a wrong one). None: the client reveals unknown users."""
    pool, client = _client_of(backend, client_id)
    if client is None or client.extended_config.get("PreventUserExistenceErrors") != "ENABLED":
        return None
    challenge, salt = new_challenge(pool_id=pool.id, client_id=client_id, username=username,
                                    user_id=username, password=None, srp_a_hex=srp_a)
    block = _secret_block()
    _challenges(backend)[block] = challenge
    return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": {
        "SALT": salt, "SRP_B": format(challenge.big_b, "x"), "USERNAME": username,
        "USER_ID_FOR_SRP": username, "SECRET_BLOCK": block}}


def _install_srp_verification() -> None:
    from moto.cognitoidp.exceptions import (
        InvalidParameterException,
        NotAuthorizedError,
        UserNotFoundError,
    )
    from moto.cognitoidp.models import CognitoIdpBackend

    upstream_initiate = CognitoIdpBackend.initiate_auth
    upstream_respond = CognitoIdpBackend.respond_to_auth_challenge

    def initiate_auth(self: CognitoIdpBackend, client_id: str, auth_flow: str,
                      auth_parameters: dict[str, str]) -> dict[str, Any]:
        if auth_flow != "USER_SRP_AUTH":
            return upstream_initiate(self, client_id, auth_flow, auth_parameters)
        username = str((auth_parameters or {}).get("USERNAME") or "")
        srp_a = str((auth_parameters or {}).get("SRP_A") or "")
        try:
            answer = upstream_initiate(self, client_id, auth_flow, auth_parameters)
        except UserNotFoundError:
            decoy = _decoy(self, client_id, username, srp_a)
            if decoy is None:
                raise
            return decoy
        session = answer["Session"]
        _, pool = self.sessions[session]
        user = self.admin_get_user(pool.id, username)
        # AWS names the user by its username (with e-mail sign-in, that is the sub).
        user_id = str(user.username)
        challenge, salt = new_challenge(pool_id=pool.id, client_id=client_id, username=username,
                                        user_id=user_id, password=user.password, srp_a_hex=srp_a)
        block = _secret_block()
        # moto finds the challenge's session by PASSWORD_CLAIM_SECRET_BLOCK: one key for both.
        self.sessions[block] = self.sessions.pop(session)
        _challenges(self)[block] = challenge
        answer["Session"] = block
        answer["ChallengeParameters"] = {
            **answer["ChallengeParameters"], "SALT": salt, "SRP_B": format(challenge.big_b, "x"),
            "USERNAME": user_id, "USER_ID_FOR_SRP": user_id, "SECRET_BLOCK": block}
        return answer

    def respond_to_auth_challenge(self: CognitoIdpBackend, session: str, client_id: str,
                                  challenge_name: str,
                                  challenge_responses: dict[str, str]) -> dict[str, Any]:
        if challenge_name != "PASSWORD_VERIFIER":
            return upstream_respond(self, session, client_id, challenge_name,
                                    challenge_responses)
        responses = challenge_responses or {}
        block = str(responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or "")
        challenge = _challenges(self).pop(block, None)  # dict.pop: one answer per challenge
        # Whatever happens below, this challenge is spent.
        moto_session = self.sessions.pop(block, None)
        if challenge is None or challenge.client_id != client_id:
            raise NotAuthorizedError("Invalid session for the user.")
        timestamp = str(responses.get("TIMESTAMP") or "")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise InvalidParameterException(TIMESTAMP_FORMAT_ERROR)
        signature = str(responses.get("PASSWORD_CLAIM_SIGNATURE") or "")
        expected = expected_signature(challenge, block, timestamp)
        if (moto_session is None
                or str(responses.get("USERNAME") or "") not in (challenge.user_id,
                                                                 challenge.username)
                or not hmac.compare_digest(signature.encode(), expected.encode())):
            raise NotAuthorizedError(WRONG_PASSWORD)
        self.sessions[block] = moto_session
        return upstream_respond(self, session, client_id, challenge_name,
                                {**responses, "USERNAME": challenge.username})

    CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]
    CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge  # type: ignore[method-assign]


def _install_revoke_token() -> None:
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.responses import CognitoIdpResponse

    def revoke_token(self: CognitoIdpResponse) -> str:
        token = str(self._get_param("Token") or "")
        client_id = str(self._get_param("ClientId") or "")
        backend = self._get_region_agnostic_backend()._find_backend_for_clientid(client_id)
        for pool in backend.user_pools.values():
            held = pool.refresh_tokens.get(token)
            if held is not None:
                if held[0] != client_id:
                    raise NotAuthorizedError("Invalid token")  # AWS: another client's token
                pool.refresh_tokens[token] = None  # moto's mark of a revoked token
        return "{}"

    CognitoIdpResponse.revoke_token = revoke_token  # type: ignore[attr-defined]


def _secret_block() -> str:
    """An opaque SECRET_BLOCK: base64, as on AWS (the client decodes it to sign it)."""
    return base64.standard_b64encode(secrets.token_bytes(48)).decode()
