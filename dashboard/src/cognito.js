// Unauthenticated sign-in through a Cognito identity pool, in one of Cognito's two guest flows:
// - the basic (classic) flow, used directly: GetId, GetOpenIdToken, then STS
//   AssumeRoleWithWebIdentity with the dashboard role (config.json's dashboardRoleArn). It needs
//   AllowClassicFlow on the pool (provision sets it) and the role's trust bound to this pool and
//   to unauthenticated identities. The session has exactly the dashboard role's permissions.
// - the enhanced (simplified) flow, only for a config.json that names no role (a stack older
//   than the role): GetId, then GetCredentialsForIdentity. Cognito scopes those guest sessions
//   down with AmazonCognitoUnAuthedIdentitiesSessionPolicy, which lists no DynamoDB action
//   (Amazon Cognito Developer Guide, "IAM roles", scope-down policy for unauthenticated
//   identities), so trying it first would cost every page load a denied read.
// Every call here is unsigned by design.

import { callAwsJson, postAws, ServiceError } from "./awsjson.js";
import { xmlText } from "./xml.js";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const TARGET = "AWSCognitoIdentityService.";
const STS_VERSION = "2011-06-15";
const SESSION_NAME = "inventory-dashboard";
// Renew credentials this long before they expire, so a read never starts with stale ones.
const RENEW_BEFORE_MS = 30_000;

/**
 * @typedef {object} Credentials
 * @property {string} accessKeyId
 * @property {string} secretAccessKey
 * @property {string} sessionToken
 * @property {number} expiresAt  milliseconds since the epoch
 * @property {"enhanced" | "basic"} flow  the flow that issued them
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
   * @param {string} [options.stsUrl]  the STS endpoint (basic flow)
   * @param {string | null} [options.roleArn]  the role the basic flow assumes; null: the enhanced
   *   flow (a config.json of a stack without the role)
   */
  constructor({ url, identityPoolId, fetchFn, now, storage, stsUrl = "", roleArn = null }) {
    this.url = url;
    this.identityPoolId = identityPoolId;
    this.fetchFn = fetchFn;
    this.now = now;
    this.storage = storage;
    this.stsUrl = stsUrl;
    this.roleArn = roleArn;
    this.storageKey = `inventory-dashboard:identity:${identityPoolId}`;
    /** @type {"enhanced" | "basic"} */
    this.flow = roleArn && stsUrl ? "basic" : "enhanced";
    /** @type {Credentials | null} */
    this.credentials = null;
    /** @type {Promise<Credentials> | null} one sign-in at a time, shared by parallel reads */
    this.signingIn = null;
  }

  /** Credentials valid for a while yet; signs in (again) when needed. */
  async getCredentials() {
    if (this.credentials && this.credentials.expiresAt - this.now() > RENEW_BEFORE_MS) {
      return this.credentials;
    }
    if (!this.signingIn) {
      const signingIn = this.#signIn().finally(() => {
        if (this.signingIn === signingIn) this.signingIn = null;
      });
      this.signingIn = signingIn;
    }
    return this.signingIn;
  }

  async #signIn() {
    const flow = this.flow;
    const credentials = await this.#signInWith(flow);
    // A switch to the basic flow while this sign-in ran makes its credentials stale at once.
    if (this.flow === flow) this.credentials = credentials;
    return credentials;
  }

  /** @param {"enhanced" | "basic"} flow */
  async #signInWith(flow) {
    const remembered = this.#recall();
    if (remembered) {
      try {
        return await this.#credentialsFor(remembered, flow);
      } catch (err) {
        // The remembered identity may belong to a pool that was deleted and re-created. An STS
        // refusal says nothing about the identity, so it is kept.
        if (!(err instanceof ServiceError) || err.network || err.code === STS_ERROR) throw err;
        this.#forget();
      }
    }
    const identityId = await this.#newIdentity();
    const credentials = await this.#credentialsFor(identityId, flow);
    this.#remember(identityId);
    return credentials;
  }

  /** Drop the cached credentials (after the service said they expired). */
  invalidate() {
    this.credentials = null;
  }

  /** Whether credentials of `flow` that were denied can be replaced by the basic flow's. */
  canFallBack(/** @type {string} */ flow) {
    return flow === "enhanced" && Boolean(this.roleArn && this.stsUrl);
  }

  /** Use the basic flow from now on (for the life of the page); idempotent. */
  useBasicFlow() {
    if (this.flow === "basic") return;
    this.flow = "basic";
    this.credentials = null;
    this.signingIn = null; // an enhanced sign-in still under way is not waited for
  }

  async #newIdentity() {
    const answer = await this.#call("GetId", { IdentityPoolId: this.identityPoolId });
    if (typeof answer.IdentityId !== "string") {
      throw new ServiceError("GetId answered without an IdentityId");
    }
    return answer.IdentityId;
  }

  /** @param {string} identityId @param {"enhanced" | "basic"} flow @returns {Promise<Credentials>} */
  async #credentialsFor(identityId, flow) {
    if (flow === "basic") return this.#basicCredentialsFor(identityId);
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
      flow: "enhanced",
    };
  }

  /** @param {string} identityId @returns {Promise<Credentials>} */
  async #basicCredentialsFor(identityId) {
    const answer = await this.#call("GetOpenIdToken", { IdentityId: identityId });
    if (typeof answer.Token !== "string") {
      throw new ServiceError("GetOpenIdToken answered without a token");
    }
    const form = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: STS_VERSION,
      RoleArn: String(this.roleArn),
      RoleSessionName: SESSION_NAME,
      WebIdentityToken: answer.Token,
    });
    const xml = await postStsForm(this.fetchFn, this.stsUrl, form);
    const c = stsCredentials(xml);
    return { ...c, expiresAt: expirationMs(c.expiration, this.now()), flow: "basic" };
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

// The code given to an STS refusal, so that sign-in does not mistake it for a stale identity.
export const STS_ERROR = "STS";

/**
 * POST an STS Query API call (form-encoded; the answer is XML) and return the answer's text.
 * @param {typeof fetch} fetchFn @param {string} url @param {URLSearchParams} form
 */
async function postStsForm(fetchFn, url, form) {
  const { response, text } = await postAws(fetchFn, url, {
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
  }, form.toString());
  if (!response.ok) {
    const code = xmlText(text, "Code");
    const message = xmlText(text, "Message");
    const detail = [code, message].filter(Boolean).join(": ") || `HTTP ${response.status}`;
    throw new ServiceError(`STS AssumeRoleWithWebIdentity: ${detail} (HTTP ${response.status})`, {
      code: STS_ERROR,
      status: response.status,
      url,
    });
  }
  return text;
}

/** @param {string} xml */
function stsCredentials(xml) {
  const accessKeyId = xmlText(xml, "AccessKeyId");
  const secretAccessKey = xmlText(xml, "SecretAccessKey");
  if (!accessKeyId || !secretAccessKey) {
    throw new ServiceError("AssumeRoleWithWebIdentity answered without credentials", { code: STS_ERROR });
  }
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken: xmlText(xml, "SessionToken"),
    expiration: xmlText(xml, "Expiration"),
  };
}
