// The AWS JSON protocol (Cognito Identity, DynamoDB): one POST per call, the operation named in
// X-Amz-Target, errors as {"__type", "message"}. Errors become ServiceError with the reason.

/** An AWS call answered with an error, or could not be made at all. */
export class ServiceError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, status?: number, url?: string, network?: boolean}} [details]
   */
  constructor(message, { code = "", status = 0, url = "", network = false } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.url = url;
    this.network = network;
    /** @type {string} the guest flow whose credentials signed the call ("" if unsigned) */
    this.flow = "";
  }
}

const MAX_REASON = 300;

/**
 * The error code and message of an AWS JSON error body; tolerant of emulators that answer
 * with HTML or plain text (moto answers a KeyError with an HTTP 500 HTML page).
 * @param {number} status
 * @param {string} statusText
 * @param {string} body
 */
export function describeErrorBody(status, statusText, body) {
  let code = "";
  let message = "";
  try {
    const data = JSON.parse(body);
    if (data && typeof data === "object") {
      // "__type" may be "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException".
      code = String(data.__type ?? data.code ?? data.Code ?? "").split("#").pop() ?? "";
      message = String(data.message ?? data.Message ?? "");
    }
  } catch {
    // Not JSON. An HTML error page (a proxy's, or the emulator's answer to an unknown identity
    // pool) only repeats the status line; plain text is kept as the reason.
    if (!/^\s*</.test(body)) message = body.replace(/\s+/g, " ").trim();
  }
  if (message.length > MAX_REASON) message = message.slice(0, MAX_REASON - 1) + "…";
  const httpPart = `HTTP ${status}${statusText ? " " + statusText : ""}`;
  const parts = [code, message].filter(Boolean).join(": ");
  return { code, message: parts ? `${parts} (${httpPart})` : httpPart };
}

/**
 * POST one AWS JSON call and return the parsed answer.
 * @param {(url: string, init: RequestInit) => Promise<Response>} send  plain fetch, or a signer
 * @param {string} url
 * @param {string} target  e.g. "DynamoDB_20120810.Query"
 * @param {string} contentType  "application/x-amz-json-1.0" or "-1.1"
 * @param {object} body
 */
export async function callAwsJson(send, url, target, contentType, body) {
  const { response, text } = await postAws(send, url, {
    "Content-Type": contentType,
    "X-Amz-Target": target,
  }, JSON.stringify(body));
  if (!response.ok) {
    const { code, message } = describeErrorBody(response.status, response.statusText, text);
    throw new ServiceError(message, { code, status: response.status, url });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ServiceError(`unexpected answer from ${url}: not JSON (HTTP ${response.status})`, {
      status: response.status,
      url,
    });
  }
}

/**
 * POST `body` and read the whole answer; a request that got no answer is a network ServiceError.
 * @param {(url: string, init: RequestInit) => Promise<Response>} send
 * @param {string} url @param {Record<string, string>} headers @param {string} body
 */
export async function postAws(send, url, headers, body) {
  let response;
  try {
    response = await send(url, { method: "POST", headers, body, cache: "no-store" });
  } catch (err) {
    // fetch rejects only when no answer came: network down, emulator stopped, CORS, CSP.
    const reason = err instanceof Error ? err.message : String(err);
    throw new ServiceError(`could not reach ${url} (${reason})`, { url, network: true });
  }
  return { response, text: await response.text() };
}
