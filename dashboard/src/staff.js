// Staff sign-in for a private dashboard: a Cognito user pool (USER_SRP_AUTH, so the password
// never leaves the browser), its tokens kept for this tab, renewed from the refresh token, and
// AWS credentials from the identity pool for the signed-in member (GetId and
// GetCredentialsForIdentity with the user pool login; Amazon Cognito Developer Guide,
// "Identity pools authentication flow", enhanced flow).

import { callAwsJson, ServiceError } from "./awsjson.js";
import { expirationMs } from "./cognito.js";
import { cognitoTimestamp, newEphemeral, passwordSignature } from "./srp.js";

const JSON_11 = "application/x-amz-json-1.1";
const IDP = "AWSCognitoIdentityProviderService.";
const IDENTITY = "AWSCognitoIdentityService.";
// Renew the id token this long before it expires, and AWS credentials 30 s before theirs.
export const RENEW_TOKEN_BEFORE_MS = 5 * 60_000;
const RENEW_CREDENTIALS_BEFORE_MS = 30_000;
// The id token claims that name a member's stores (custom:store1 ... custom:storeN); a member
// with none is staff of every store.
const STORE_CLAIM = /^custom:store\d+$/;

/** One run of an async task at a time: whoever asks while it runs shares its outcome. */
class OneAtATime {
  /** @type {Promise<any> | null} */
  #running = null;

  /** @template T @param {() => Promise<T>} task @returns {Promise<T>} */
  run(task) {
    if (!this.#running) {
      const running = task().finally(() => {
        if (this.#running === running) this.#running = null;
      });
      this.#running = running;
    }
    return this.#running;
  }
}

/** Signing in is needed (again): no session, or the one there was is over. */
export class SignInRequired extends Error {}

/** Cognito refused the e-mail address and password. */
export class WrongPassword extends Error {}

/**
 * The claims of a JWT (no signature check: the page only reads what Cognito sent it; AWS
 * checks the token itself when the page uses it).
 * @param {string} token
 * @returns {Record<string, any>}
 */
export function tokenClaims(token) {
  const part = token.split(".")[1] ?? "";
  try {
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : {};
  } catch {
    return {};
  }
}

/**
 * The stores an id token's member may read, sorted; [] for staff of every store.
 * @param {Record<string, any>} claims
 */
export function memberStores(claims) {
  const stores = new Set();
  for (const [name, value] of Object.entries(claims)) {
    if (STORE_CLAIM.test(name) && typeof value === "string" && value) stores.add(value);
  }
  return [...stores].sort();
}

/**
 * @typedef {object} Tokens
 * @property {string} idToken
 * @property {string} refreshToken
 * @property {string} accessToken
 */

/**
 * @typedef {{kind: "signed-in"} | {kind: "new-password", session: string, username: string}} SignInStep
 */

export class StaffSession {
  /**
   * @param {object} options
   * @param {string} options.idpUrl  the Cognito user pools endpoint
   * @param {string} options.identityUrl  the Cognito identity pools endpoint
   * @param {string} options.region
   * @param {string} options.userPoolId
   * @param {string} options.clientId
   * @param {string} options.identityPoolId
   * @param {typeof fetch} options.fetchFn
   * @param {() => number} options.now
   * @param {Storage | null} options.storage  sessionStorage: this tab only, gone with it
   */
  constructor({ idpUrl, identityUrl, region, userPoolId, clientId, identityPoolId, fetchFn, now, storage }) {
    this.idpUrl = idpUrl;
    this.identityUrl = identityUrl;
    this.userPoolId = userPoolId;
    this.clientId = clientId;
    this.identityPoolId = identityPoolId;
    this.provider = `cognito-idp.${region}.amazonaws.com/${userPoolId}`;
    this.fetchFn = fetchFn;
    this.now = now;
    this.storage = storage;
    this.storageKey = `inventory-dashboard:staff:${userPoolId}:${clientId}`;
    /** @type {Tokens | null} */
    this.tokens = this.#recall();
    /** @type {string | null} */
    this.identityId = null;
    /** @type {import("./cognito.js").Credentials | null} */
    this.credentials = null;
    // Parallel reads share one renewal and one credentials request.
    this.renewing = new OneAtATime();
    this.fetchingCredentials = new OneAtATime();
  }

  get signedIn() {
    return this.tokens !== null;
  }

  /** The signed-in member's claims ({} when signed out). */
  get claims() {
    return this.tokens ? tokenClaims(this.tokens.idToken) : {};
  }

  /** Who is signed in, as people know them: the e-mail address, else the username. */
  get who() {
    const c = this.claims;
    return String(c.email ?? c["cognito:username"] ?? "");
  }

  /** The member's stores; [] for staff of every store. */
  get stores() {
    return memberStores(this.claims);
  }

  /**
   * Sign in with USER_SRP_AUTH.
   * @param {string} username @param {string} password
   * @returns {Promise<SignInStep>}
   */
  async signIn(username, password) {
    try {
      return await this.#srpSignIn(username, password);
    } catch (err) {
      // Cognito answers a wrong password, and an unknown user (when the client prevents user
      // existence errors, as provision sets it), with NotAuthorizedException.
      if (err instanceof ServiceError && err.code === "UserNotFoundException") {
        throw new WrongPassword("Incorrect e-mail address or password.");
      }
      if (err instanceof ServiceError && err.code === "NotAuthorizedException") {
        throw new WrongPassword(/Incorrect username or password/i.test(err.message)
          ? "Incorrect e-mail address or password."
          : `Cognito refused the sign-in: ${err.message}`);
      }
      throw err;
    }
  }

  /** @param {string} username @param {string} password @returns {Promise<SignInStep>} */
  async #srpSignIn(username, password) {
    const ephemeral = newEphemeral();
    const started = await this.#idp("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "USER_SRP_AUTH",
      AuthParameters: { USERNAME: username, SRP_A: ephemeral.srpA },
    });
    if (started.ChallengeName !== "PASSWORD_VERIFIER") {
      throw new ServiceError(`Cognito asked for ${started.ChallengeName ?? "nothing"}, which this page does not support`);
    }
    const p = started.ChallengeParameters ?? {};
    const timestamp = cognitoTimestamp(new Date(this.now()));
    const signature = await passwordSignature({
      poolId: this.userPoolId,
      userId: p.USER_ID_FOR_SRP,
      password,
      salt: p.SALT,
      srpB: p.SRP_B,
      secretBlock: p.SECRET_BLOCK,
      timestamp,
      ephemeral,
    });
    const answer = await this.#idp("RespondToAuthChallenge", {
      ClientId: this.clientId,
      ChallengeName: "PASSWORD_VERIFIER",
      Session: started.Session,
      ChallengeResponses: {
        USERNAME: p.USER_ID_FOR_SRP,
        TIMESTAMP: timestamp,
        PASSWORD_CLAIM_SECRET_BLOCK: p.SECRET_BLOCK,
        PASSWORD_CLAIM_SIGNATURE: signature,
      },
    });
    return this.#next(answer, p.USER_ID_FOR_SRP);
  }

  /**
   * The first sign-in's second step: the invited member chooses a password.
   * @param {{session: string, username: string}} step @param {string} newPassword
   * @returns {Promise<SignInStep>}
   */
  async setNewPassword(step, newPassword) {
    const answer = await this.#idp("RespondToAuthChallenge", {
      ClientId: this.clientId,
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      Session: step.session,
      ChallengeResponses: { USERNAME: step.username, NEW_PASSWORD: newPassword },
    });
    return this.#next(answer, step.username);
  }

  /** @param {any} answer @param {string} username @returns {SignInStep} */
  #next(answer, username) {
    if (answer.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      return { kind: "new-password", session: String(answer.Session), username: String(answer.ChallengeParameters?.USERNAME ?? username) };
    }
    const r = answer.AuthenticationResult;
    if (!r?.IdToken || !r?.RefreshToken) {
      throw new ServiceError(`Cognito asked for ${answer.ChallengeName ?? "nothing"}, which this page does not support`);
    }
    this.#keep({ idToken: r.IdToken, accessToken: r.AccessToken ?? "", refreshToken: r.RefreshToken });
    return { kind: "signed-in" };
  }

  /** Forget the tokens here and revoke the refresh token at Cognito (best effort). */
  async signOut() {
    const tokens = this.tokens;
    this.#forget();
    if (!tokens) return;
    try {
      await this.#idp("RevokeToken", { ClientId: this.clientId, Token: tokens.refreshToken });
    } catch {
      // Signed out here whatever Cognito said: the tokens are gone from this tab.
    }
  }

  /** Drop the AWS credentials (the service said they expired); the tokens stay. */
  invalidate() {
    this.credentials = null;
  }

  canFallBack() {
    return false; // a member has one way in: its login
  }

  useBasicFlow() {}

  /** Milliseconds until the id token expires (negative: it has). */
  tokenLife() {
    const exp = Number(this.claims.exp ?? 0);
    return exp * 1000 - this.now();
  }

  /** Renew the id token from the refresh token when it expires soon; SignInRequired if refused. */
  async renewIfDue() {
    if (!this.tokens) throw new SignInRequired("not signed in");
    if (this.tokenLife() > RENEW_TOKEN_BEFORE_MS) return;
    await this.renewing.run(() => this.#renew());
  }

  async #renew() {
    const tokens = this.tokens;
    if (!tokens) throw new SignInRequired("not signed in");
    let answer;
    try {
      answer = await this.#idp("InitiateAuth", {
        ClientId: this.clientId,
        AuthFlow: "REFRESH_TOKEN_AUTH",
        AuthParameters: { REFRESH_TOKEN: tokens.refreshToken },
      });
    } catch (err) {
      if (err instanceof ServiceError && err.code === "NotAuthorizedException") {
        this.#forget();
        throw new SignInRequired("Your session has ended: please sign in again.");
      }
      throw err;
    }
    const r = answer.AuthenticationResult ?? {};
    if (!r.IdToken) throw new ServiceError("Cognito renewed the session without an id token");
    // REFRESH_TOKEN_AUTH keeps the refresh token unless the client rotates it.
    this.#keep({ idToken: r.IdToken, accessToken: r.AccessToken ?? "", refreshToken: r.RefreshToken ?? tokens.refreshToken });
  }

  /** AWS credentials of the signed-in member, renewed (and the token with them) when due. */
  async getCredentials() {
    await this.renewIfDue();
    if (this.credentials && this.credentials.expiresAt - this.now() > RENEW_CREDENTIALS_BEFORE_MS) {
      return this.credentials;
    }
    return this.fetchingCredentials.run(() => this.#credentials());
  }

  async #credentials() {
    const tokens = this.tokens;
    if (!tokens) throw new SignInRequired("not signed in");
    const logins = { [this.provider]: tokens.idToken };
    try {
      if (!this.identityId) {
        const got = await this.#identity("GetId", { IdentityPoolId: this.identityPoolId, Logins: logins });
        this.identityId = String(got.IdentityId ?? "");
      }
      const answer = await this.#identity("GetCredentialsForIdentity", { IdentityId: this.identityId, Logins: logins });
      const c = answer.Credentials ?? {};
      if (!c.AccessKeyId || !c.SecretKey) throw new ServiceError("GetCredentialsForIdentity answered without credentials");
      this.credentials = {
        accessKeyId: String(c.AccessKeyId),
        secretAccessKey: String(c.SecretKey),
        sessionToken: String(c.SessionToken ?? ""),
        expiresAt: expirationMs(c.Expiration, this.now()),
        flow: "enhanced",
      };
      return this.credentials;
    } catch (err) {
      // The identity pool refused the login: an expired or revoked token, or a member removed.
      if (err instanceof ServiceError && err.code === "NotAuthorizedException") {
        this.#forget();
        throw new SignInRequired("Your session has ended: please sign in again.");
      }
      throw err;
    }
  }

  /** @param {string} operation @param {object} body */
  #idp(operation, body) {
    return callAwsJson(this.fetchFn, this.idpUrl, IDP + operation, JSON_11, body);
  }

  /** @param {string} operation @param {object} body */
  #identity(operation, body) {
    return callAwsJson(this.fetchFn, this.identityUrl, IDENTITY + operation, JSON_11, body);
  }

  /** @param {Tokens} tokens */
  #keep(tokens) {
    this.tokens = tokens;
    this.credentials = null;
    try {
      this.storage?.setItem(this.storageKey, JSON.stringify(tokens));
    } catch {
      // Not kept: a reload asks to sign in again.
    }
  }

  #forget() {
    this.tokens = null;
    this.credentials = null;
    this.identityId = null;
    try {
      this.storage?.removeItem(this.storageKey);
    } catch {
      // see #keep
    }
  }

  /** @returns {Tokens | null} */
  #recall() {
    try {
      const raw = this.storage?.getItem(this.storageKey);
      const t = raw ? JSON.parse(raw) : null;
      return t && typeof t.idToken === "string" && typeof t.refreshToken === "string" ? t : null;
    } catch {
      return null;
    }
  }
}
