"""The emulator's SRP sign-in (seam/cognito_srp.py), driven by a client written from the protocol
(tests/local/srp_client.py), against moto in-process with the seam installed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from srp_client import SrpClient, cognito_timestamp

from inventory_cli.local import moto_seam
from inventory_cli.local.seam import cognito_srp

TEMPORARY = "Temp-Pass-123!"
PASSWORD = "Chosen-Pass-456!"


@pytest.fixture
def idp(session: boto3.session.Session) -> Any:
    moto_seam.install()
    return session.client("cognito-idp")


def _pool(idp: Any, *, prevent_existence_errors: bool = True) -> tuple[str, str]:
    pool = idp.create_user_pool(PoolName="inv-staff", UsernameAttributes=["email"])["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="dashboard", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED" if prevent_existence_errors else "LEGACY",
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def _user(idp: Any, pool_id: str, email: str, *, confirmed: bool = True) -> None:
    idp.admin_create_user(UserPoolId=pool_id, Username=email, TemporaryPassword=TEMPORARY,
                          UserAttributes=[{"Name": "email", "Value": email}],
                          MessageAction="SUPPRESS")
    if confirmed:
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD,
                                    Permanent=True)


def test_the_right_password_signs_in_and_a_wrong_one_is_refused(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "ana@example.com")
    srp = SrpClient(pool_id, client_id)
    challenge = srp.start(idp, "ana@example.com")
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    params = challenge["ChallengeParameters"]
    # A real B and salt (moto sent uuid hex), a base64 secret block.
    assert int(params["SRP_B"], 16).bit_length() > 3000
    assert len(params["SALT"]) == 32
    tokens = srp.answer(idp, challenge, PASSWORD)["AuthenticationResult"]
    assert tokens["IdToken"] and tokens["RefreshToken"]

    with pytest.raises(idp.exceptions.NotAuthorizedException, match=cognito_srp.WRONG_PASSWORD):
        SrpClient(pool_id, client_id).sign_in(idp, "ana@example.com", PASSWORD + "x")
    # The temporary password is no longer the password either.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        SrpClient(pool_id, client_id).sign_in(idp, "ana@example.com", TEMPORARY)


def test_the_temporary_password_leads_to_a_new_one(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "ben@example.com", confirmed=False)
    # A wrong temporary password does not even reach the new-password step.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        SrpClient(pool_id, client_id).sign_in(idp, "ben@example.com", "not-it")
    answer = SrpClient(pool_id, client_id).sign_in(idp, "ben@example.com", TEMPORARY)
    assert answer["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=answer["Session"],
        ChallengeResponses={"USERNAME": answer["ChallengeParameters"]["USERNAME"],
                            "NEW_PASSWORD": PASSWORD})
    assert done["AuthenticationResult"]["IdToken"]
    assert SrpClient(pool_id, client_id).sign_in(
        idp, "ben@example.com", PASSWORD)["AuthenticationResult"]["AccessToken"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        SrpClient(pool_id, client_id).sign_in(idp, "ben@example.com", TEMPORARY)


def test_a_challenge_answers_once(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "cy@example.com")
    srp = SrpClient(pool_id, client_id)
    challenge = srp.start(idp, "cy@example.com")
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        srp.answer(idp, challenge, "wrong")
    # The right password on the same (spent) challenge does not get in either.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        srp.answer(idp, challenge, PASSWORD)
    challenge = srp.start(idp, "cy@example.com")
    srp.answer(idp, challenge, PASSWORD)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        srp.answer(idp, challenge, PASSWORD)  # a replay of a good answer


def test_the_timestamp_must_be_in_cognitos_format(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "di@example.com")
    srp = SrpClient(pool_id, client_id)
    iso = datetime.now(UTC).isoformat()
    with pytest.raises(idp.exceptions.InvalidParameterException, match="TIMESTAMP format"):
        srp.answer(idp, srp.start(idp, "di@example.com"), PASSWORD, timestamp=iso)
    # The signature covers the timestamp: the one signed must be the one sent.
    challenge = srp.start(idp, "di@example.com")
    params = challenge["ChallengeParameters"]
    signed = srp.signature(user_id=params["USER_ID_FOR_SRP"], password=PASSWORD,
                           salt_hex=params["SALT"], srp_b_hex=params["SRP_B"],
                           secret_block=params["SECRET_BLOCK"],
                           timestamp="Mon Jan 5 10:00:00 UTC 2026")
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses={
                "USERNAME": params["USER_ID_FOR_SRP"], "TIMESTAMP": "Mon Jan 5 10:00:01 UTC 2026",
                "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                "PASSWORD_CLAIM_SIGNATURE": signed})


@pytest.mark.parametrize(("moment", "text"), [
    (datetime(2026, 12, 3, 7, 5, 9, tzinfo=UTC), "Thu Dec 3 07:05:09 UTC 2026"),
    (datetime(2025, 2, 28, 23, 59, 0, tzinfo=UTC), "Fri Feb 28 23:59:00 UTC 2025"),
])
def test_cognito_timestamp_format(moment: datetime, text: str) -> None:
    assert cognito_timestamp(moment) == text
    assert cognito_srp._TIMESTAMP.fullmatch(text)


def test_an_unknown_user_is_refused_like_a_wrong_password(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    with pytest.raises(idp.exceptions.NotAuthorizedException, match=cognito_srp.WRONG_PASSWORD):
        SrpClient(pool_id, client_id).sign_in(idp, "nobody@example.com", PASSWORD)
    # Without PreventUserExistenceErrors, Cognito says the user does not exist.
    legacy_pool, legacy_client = _pool(idp, prevent_existence_errors=False)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        SrpClient(legacy_pool, legacy_client).start(idp, "nobody@example.com")


def test_a_value_of_a_that_is_zero_mod_n_is_refused(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "ed@example.com")
    for bad in ("0", format(cognito_srp.N, "x"), "zz"):
        with pytest.raises(idp.exceptions.InvalidParameterException):
            idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                              AuthParameters={"USERNAME": "ed@example.com", "SRP_A": bad})


def test_a_revoked_refresh_token_renews_nothing(idp: Any) -> None:
    pool_id, client_id = _pool(idp)
    _user(idp, pool_id, "flo@example.com")
    tokens = SrpClient(pool_id, client_id).sign_in(
        idp, "flo@example.com", PASSWORD)["AuthenticationResult"]
    renewed = idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert renewed["AuthenticationResult"]["IdToken"]
    idp.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})


def test_server_and_client_derive_the_same_signature() -> None:
    """The server's key from v and A equals the client's from the password and B, for many
    random exchanges (a mismatch in padding shows up for values with a leading 0x80+ byte)."""
    for n in range(12):
        client = SrpClient("us-east-1_AbCdEf", "client")
        challenge, salt = cognito_srp.new_challenge(
            pool_id="us-east-1_AbCdEf", client_id="client", username="u@example.com",
            user_id=f"user-{n}", password=f"pässword {n}", srp_a_hex=format(client.big_a, "x"))
        block = cognito_srp._secret_block()
        stamp = "Tue Mar 3 09:04:05 UTC 2026"
        assert client.signature(
            user_id=f"user-{n}", password=f"pässword {n}", salt_hex=salt,
            srp_b_hex=format(challenge.big_b, "x"), secret_block=block, timestamp=stamp,
        ) == cognito_srp.expected_signature(challenge, block, stamp)


def test_what_the_srp_seam_relies_on_in_moto_is_where_it_expects_it() -> None:
    import inspect

    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, RegionAgnosticBackend
    from moto.cognitoidp.responses import CognitoIdpResponse

    moto_seam.install()
    for method in (CognitoIdpBackend.initiate_auth, CognitoIdpBackend.respond_to_auth_challenge):
        assert inspect.unwrap(method).__module__ == cognito_srp.__name__  # installed
    upstream = inspect.getsource(inspect.getmodule(CognitoIdpBackend))  # type: ignore[arg-type]
    # moto keys a PASSWORD_VERIFIER's session by PASSWORD_CLAIM_SECRET_BLOCK (the seam re-keys
    # it to its own secret block), and keeps the user's password in the clear.
    assert 'session = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK")' in upstream
    assert "self.sessions[session] = (username, user_pool)" in upstream
    assert "self.password = password" in inspect.getsource(CognitoIdpUser.__init__)
    assert "self.refresh_tokens[token] = None" in upstream  # moto's mark of a revoked token
    assert hasattr(RegionAgnosticBackend, "_find_backend_for_clientid")
    assert hasattr(CognitoIdpResponse, "_get_region_agnostic_backend")
    assert callable(CognitoIdpResponse.revoke_token)  # type: ignore[attr-defined]
