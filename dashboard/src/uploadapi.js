// The store upload endpoint (docs/store-uploads.md) and S3's presigned POST.
//
// Every failure becomes an UploadError with what the page needs to explain it: the HTTP status
// (0: the request never got an answer), the endpoint's or S3's error code, and its message.

import { xmlText } from "./xml.js";

// The endpoint's answers about the key itself (docs/store-uploads.md).
const KEY_ANSWERS = new Set(["missing_key", "malformed_key", "unknown_key", "revoked_key"]);

export class UploadError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, source?: "endpoint" | "s3"}} details
   */
  constructor(message, { status = 0, code = "", source = "endpoint" } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.source = source;
  }

  /** The request never got an answer (offline, DNS, refused, CORS). */
  get network() {
    return this.status === 0;
  }

  /** The key itself was refused: wrong, missing, malformed or revoked (the endpoint says so). */
  get keyRefused() {
    return this.source === "endpoint" && KEY_ANSWERS.has(this.code);
  }

  /**
   * A 403 that is not the endpoint's answer (every answer of its function names an "error"):
   * Lambda refused the call before the function ran ({"Message": "Forbidden"}), because the
   * function URL's public permissions are missing. The key was never looked at.
   */
  get endpointClosed() {
    return this.source === "endpoint" && this.status === 403 && this.code === "";
  }
}

/**
 * @typedef {{url: string, fields: Record<string, string>}} PresignedPost
 * @typedef {{store: string, key: string, post: PresignedPost, max_bytes: number,
 *            expires_in: number, report_url: string}} UploadGrant
 */

export class UploadEndpoint {
  /**
   * @param {string} baseUrl  config.json's uploadUrl
   * @param {string} key  the store's key
   * @param {typeof fetch} fetchFn
   */
  constructor(baseUrl, key, fetchFn) {
    this.base = baseUrl.replace(/\/+$/, "") + "/";
    this.key = key;
    this.fetch = fetchFn;
  }

  /** @returns {Promise<{store: string}>} */
  async whoami() {
    const body = await this.request("GET", "whoami");
    if (typeof body.store !== "string" || !body.store) {
      throw new UploadError("the endpoint's whoami answer names no store", { status: 200, code: "bad_answer" });
    }
    return { store: body.store };
  }

  /**
   * Ask for a presigned POST for one file.
   * @param {string} filename
   * @param {number} size
   * @returns {Promise<UploadGrant>}
   */
  async grant(filename, size) {
    const body = await this.request("POST", "uploads", { filename, size });
    const post = body.post;
    if (!post || typeof post.url !== "string" || typeof post.fields !== "object" || typeof body.report_url !== "string") {
      throw new UploadError("the endpoint's uploads answer lacks post.url, post.fields or report_url", {
        status: 200,
        code: "bad_answer",
      });
    }
    return /** @type {UploadGrant} */ (body);
  }

  /**
   * This store's load reports, newest first as the endpoint gives them.
   * @returns {Promise<{key: string, status: string, loaded: number, rejected_count: number, when: string}[]>}
   */
  async reports() {
    const body = await this.request("GET", "reports");
    return Array.isArray(body.reports) ? body.reports : [];
  }

  /**
   * The load report, or null while it is not there yet (404 not_ready).
   * @param {string} reportUrl  as the uploads answer gave it (absolute, or relative to uploadUrl)
   * @returns {Promise<Record<string, any> | null>}
   */
  async report(reportUrl) {
    try {
      return await this.request("GET", new URL(reportUrl, this.base).href);
    } catch (err) {
      if (err instanceof UploadError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path  relative to uploadUrl, or absolute
   * @param {unknown} [json]
   * @returns {Promise<Record<string, any>>}
   */
  async request(method, path, json) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${this.key}` };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await this.fetch(new URL(path, this.base).href, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      throw new UploadError(`could not reach the upload endpoint: ${err instanceof Error ? err.message : String(err)}`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok) {
      const code = body && typeof body.error === "string" ? body.error : "";
      const said = body && (typeof body.message === "string" ? body.message : body.Message);
      const message = typeof said === "string" && said ? said : `HTTP ${response.status}`;
      throw new UploadError(message, { status: response.status, code });
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new UploadError(`the upload endpoint answered HTTP ${response.status} without a JSON object`, {
        status: response.status,
        code: "bad_answer",
      });
    }
    return body;
  }
}

/**
 * S3's XML error (<Error><Code>..</Code><Message>..</Message></Error>), read without an HTML
 * parser: the two elements' text, entities decoded.
 * @param {string} text
 */
export function parseS3Error(text) {
  return { code: xmlText(text, "Code"), message: xmlText(text, "Message") };
}

/**
 * Send the file with the presigned POST: the policy's fields first, the file last (S3 ignores
 * fields after it). XMLHttpRequest, not fetch: only it reports upload progress.
 * @param {PresignedPost} post
 * @param {Blob} file
 * @param {(sent: number, total: number) => void} onProgress
 * @param {() => XMLHttpRequest} [makeRequest]
 * @returns {Promise<void>}
 */
export function postToS3(post, file, onProgress, makeRequest = () => new XMLHttpRequest()) {
  const form = new FormData();
  for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
  form.append("file", file);
  return new Promise((resolve, reject) => {
    const xhr = makeRequest();
    xhr.open("POST", post.url);
    xhr.upload.addEventListener("progress", (event) => {
      onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve();
        return;
      }
      const { code, message } = parseS3Error(xhr.responseText || "");
      reject(new UploadError(message || `S3 answered HTTP ${xhr.status}`, { status: xhr.status, code, source: "s3" }));
    });
    xhr.addEventListener("error", () => {
      reject(new UploadError("the connection to S3 failed while sending the file", { source: "s3" }));
    });
    xhr.addEventListener("timeout", () => {
      reject(new UploadError("S3 did not answer in time", { source: "s3" }));
    });
    xhr.send(form);
  });
}
