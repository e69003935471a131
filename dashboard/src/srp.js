// The client side of Cognito's SRP-6a (USER_SRP_AUTH), with BigInt and WebCrypto only: the
// password never leaves the browser, only a proof that the page knows it.
// Constants and encodings as Cognito expects them (Amazon Cognito Developer Guide, "User pool
// authentication flow"; AWS's reference client amazon-cognito-identity-js, AuthenticationHelper):
// the 3072-bit group of RFC 3526, g = 2, k = H(pad(N) | pad(g)), x = H(pad(salt) | H(poolName |
// userId | ":" | password)), u = H(pad(A) | pad(B)), S = (B - k·g^x)^(a + u·x) mod N, the key
// HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key") cut to 16 bytes, and
// the claim HMAC-SHA256(key, poolName | userId | secretBlock | timestamp), base64.

const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
  "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
  "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
  "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
  "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
  "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
  "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
  "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
export const N = BigInt("0x" + N_HEX);
const G = 2n;
const INFO = new TextEncoder().encode("Caldera Derived Key\u0001");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** @param {bigint} base @param {bigint} exp @param {bigint} mod */
export function modPow(base, exp, mod) {
  let result = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** Even-length hex of a non-negative number, "00" in front when it would read as negative. */
export function padHex(/** @type {bigint} */ n) {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  else if ("89abcdef".includes(hex[0])) hex = "00" + hex;
  return hex;
}

/** @param {string} hex */
function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {ArrayBuffer | Uint8Array} bytes */
function bytesHex(bytes) {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {Uint8Array[]} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SHA-256 of bytes, as a number. @param {Uint8Array} bytes */
async function hashNumber(bytes) {
  return BigInt("0x" + bytesHex(await crypto.subtle.digest("SHA-256", bytes)));
}

/** @param {Uint8Array} key @param {Uint8Array} data */
async function hmac(key, data) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** @param {Uint8Array} bytes */
function base64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** @param {string} text */
function unbase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

let kValue = /** @type {bigint | null} */ (null);
async function multiplier() {
  kValue ??= await hashNumber(hexBytes(padHex(N) + padHex(G)));
  return kValue;
}

/**
 * The timestamp Cognito wants with the claim: Java's "EEE MMM d HH:mm:ss z yyyy", English, UTC
 * (the day of the month without a leading zero).
 * @param {Date} date
 */
export function cognitoTimestamp(date) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC ${date.getUTCFullYear()}`;
}

/** A fresh ephemeral secret a (1024 random bits) and the public A = g^a mod N, A ≠ 0. */
export function newEphemeral() {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(128));
    const a = BigInt("0x" + bytesHex(bytes)) % N;
    const A = modPow(G, a, N);
    if (a !== 0n && A !== 0n) return { a, A, srpA: A.toString(16) };
  }
}

/**
 * PASSWORD_CLAIM_SIGNATURE for a PASSWORD_VERIFIER challenge.
 * @param {object} p
 * @param {string} p.poolId  "eu-west-1_AbC": the pool's name is the part after "_"
 * @param {string} p.userId  the challenge's USER_ID_FOR_SRP
 * @param {string} p.password
 * @param {string} p.salt  hex
 * @param {string} p.srpB  hex
 * @param {string} p.secretBlock  base64
 * @param {string} p.timestamp  cognitoTimestamp(...)
 * @param {{a: bigint, A: bigint}} p.ephemeral
 */
export async function passwordSignature({ poolId, userId, password, salt, srpB, secretBlock, timestamp, ephemeral }) {
  const B = BigInt("0x" + srpB);
  if (B % N === 0n) throw new Error("Cognito's SRP_B is not valid");
  const { a, A } = ephemeral;
  const u = await hashNumber(hexBytes(padHex(A) + padHex(B)));
  if (u === 0n) throw new Error("SRP u is 0");
  const pool = poolId.split("_")[1] ?? "";
  const text = new TextEncoder();
  const identity = bytesHex(await crypto.subtle.digest("SHA-256", text.encode(`${pool}${userId}:${password}`)));
  const x = await hashNumber(hexBytes(padHex(BigInt("0x" + salt)) + identity));
  const k = await multiplier();
  const base = (((B - k * modPow(G, x, N)) % N) + N) % N;
  const S = modPow(base, a + u * x, N);
  const prk = await hmac(hexBytes(padHex(u)), hexBytes(padHex(S)));
  const key = (await hmac(prk, INFO)).slice(0, 16);
  const message = concat(text.encode(pool), text.encode(userId), unbase64(secretBlock), text.encode(timestamp));
  return base64(await hmac(key, message));
}
