// Unauthenticated sign-in through a Cognito identity pool (the "basic" guest flow without
// GetOpenIdToken: GetId, then GetCredentialsForIdentity). Both calls are unsigned by design.

import { callAwsJson, ServiceError } from "./awsjson.js";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const TARGET = "AWSCognitoIdentityService.";
// Renew credentials this long before they expire, so a read never starts with stale ones.
const RENEW_BEFORE_MS = 30_000;

/**
 * @typedef {object} Credentials
 * @property {string} accessKeyId
 * @property {string} secretAccessKey
 * @property {string} sessionToken
 * @property {number} expiresAt  milliseconds since the epoch
 */

/**
 * Keeps one guest identity per pool (remembered in localStorage, so reloading the page does not
 * create a new identity in the pool every time) and its temporary credentials.
 */
export class GuestSignIn {
  /**
   * @param {object} options
   * @param {string} options.url  the Cognito Identity endpoint
   * @param {string} options.identityPoolId
   * @param {typeof fetch} options.fetchFn
   * @param {() => number} options.now
   * @param {Storage | null} options.storage
   */
  constructor({ url, identityPoolId, fetchFn, now, storage }) {
    this.url = url;
    this.identityPoolId = identityPoolId;
    this.fetchFn = fetchFn;
    this.now = now;
    this.storage = storage;
    this.storageKey = `inventory-dashboard:identity:${identityPoolId}`;
    /** @type {Credentials | null} */
    this.credentials = null;
  }

  /** Credentials valid for a while yet; signs in (again) when needed. */
  async getCredentials() {
    if (this.credentials && this.credentials.expiresAt - this.now() > RENEW_BEFORE_MS) {
      return this.credentials;
    }
    const remembered = this.#recall();
    if (remembered) {
      try {
        this.credentials = await this.#credentialsFor(remembered);
        return this.credentials;
      } catch (err) {
        // The remembered identity may belong to a pool that was deleted and re-created.
        if (!(err instanceof ServiceError) || err.network) throw err;
        this.#forget();
      }
    }
    const identityId = await this.#newIdentity();
    this.credentials = await this.#credentialsFor(identityId);
    this.#remember(identityId);
    return this.credentials;
  }

  /** Drop the cached credentials (after the service said they expired). */
  invalidate() {
    this.credentials = null;
  }

  async #newIdentity() {
    const answer = await this.#call("GetId", { IdentityPoolId: this.identityPoolId });
    if (typeof answer.IdentityId !== "string") {
      throw new ServiceError("GetId answered without an IdentityId");
    }
    return answer.IdentityId;
  }

  /** @param {string} identityId */
  async #credentialsFor(identityId) {
    const answer = await this.#call("GetCredentialsForIdentity", { IdentityId: identityId });
    const c = answer.Credentials ?? {};
    if (!c.AccessKeyId || !c.SecretKey) {
      throw new ServiceError("GetCredentialsForIdentity answered without credentials");
    }
    return {
      accessKeyId: String(c.AccessKeyId),
      secretAccessKey: String(c.SecretKey),
      sessionToken: String(c.SessionToken ?? ""),
      expiresAt: expirationMs(c.Expiration, this.now()),
    };
  }

  /** @param {string} operation @param {object} body */
  #call(operation, body) {
    return callAwsJson(this.fetchFn, this.url, TARGET + operation, CONTENT_TYPE, body);
  }

  #recall() {
    try {
      return this.storage?.getItem(this.storageKey) ?? null;
    } catch {
      return null; // storage disabled (private mode): sign in anew each time
    }
  }

  /** @param {string} identityId */
  #remember(identityId) {
    try {
      this.storage?.setItem(this.storageKey, identityId);
    } catch {
      // Not remembering only costs a new guest identity on the next visit.
    }
  }

  #forget() {
    try {
      this.storage?.removeItem(this.storageKey);
    } catch {
      // see #remember
    }
  }
}

/**
 * Cognito sends Expiration as epoch seconds (a number, possibly fractional).
 * @param {unknown} value
 * @param {number} now
 */
export function expirationMs(value, now) {
  if (typeof value === "number" && Number.isFinite(value)) return value * 1000;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return now + 5 * 60_000; // unknown format: assume a short lifetime and renew early
}
