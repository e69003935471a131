// Read-only DynamoDB access with the guest credentials: Query for one store, paginated Scan for
// all of them. Requests are signed (SigV4) by aws4fetch.

import { AwsClient } from "aws4fetch";
import { callAwsJson, ServiceError } from "./awsjson.js";

const CONTENT_TYPE = "application/x-amz-json-1.0";
const TARGET = "DynamoDB_20120810.";
// Codes that mean "sign in again", not "the read is impossible".
const STALE_CREDENTIALS = new Set(["ExpiredTokenException", "UnrecognizedClientException"]);
// Codes that, still there after signing in again, mean "these credentials may not read": under
// the enhanced flow the page then falls back to the basic flow (see cognito.js).
const DENIED = new Set(["AccessDeniedException", "UnrecognizedClientException"]);

/** A read denied under the enhanced flow, and the basic flow did not help either. */
export class GuestReadDenied extends Error {
  /** @param {ServiceError} denied  the enhanced flow's refusal @param {unknown} fallback */
  constructor(denied, fallback) {
    const reason = fallback instanceof Error ? fallback.message : String(fallback);
    super(
      `DynamoDB denied the guest credentials (${denied.message}), and the basic sign-in flow ` +
        `failed too: ${reason}`,
    );
    this.denied = denied;
    this.fallback = fallback;
  }
}
// "Count" is a DynamoDB reserved word, so every expression names attributes through aliases.
const NAMES = { "#s": "Store", "#i": "Item", "#c": "Count" };

/**
 * @typedef {{store: string, item: string, count: bigint}} Row  count: exact, whatever its size
 * @typedef {{rows: Row[], skipped: number}} ReadResult  skipped: items without a numeric Count
 */

export class InventoryReader {
  /**
   * @param {object} options
   * @param {string} options.url  the DynamoDB endpoint
   * @param {string} options.region
   * @param {string} options.table
   * @param {import("./cognito.js").GuestSignIn} options.signIn
   */
  constructor({ url, region, table, signIn }) {
    this.url = url;
    this.region = region;
    this.table = table;
    this.signIn = signIn;
    /** @type {{key: string, client: AwsClient, flow: string} | null} */
    this.client = null;
  }

  /** @param {string} store @returns {Promise<ReadResult>} */
  async queryStore(store) {
    const items = await this.#paginate("Query", {
      KeyConditionExpression: "#s = :store",
      ExpressionAttributeValues: { ":store": { S: store } },
      ProjectionExpression: "#s, #i, #c",
      ExpressionAttributeNames: NAMES,
    });
    return toRows(items);
  }

  /**
   * The summary rows of one kind ("store" or "item"), kept by the update-summaries function:
   * one row per store or item, so the cost does not grow with stores x items.
   * @param {string} summaryTable
   * @param {"store" | "item"} kind
   * @param {boolean} [namesOnly]
   */
  async querySummaries(summaryTable, kind, namesOnly = false) {
    /** @type {Record<string, unknown>} */
    const request = {
      KeyConditionExpression: "#k = :kind",
      ExpressionAttributeNames: { "#k": "Kind", ...(namesOnly ? { "#n": "Name", "#m": "Items" } : {}) },
      ExpressionAttributeValues: { ":kind": { S: kind } },
    };
    if (namesOnly) request.ProjectionExpression = "#n, #m";
    return this.#paginate("Query", request, summaryTable);
  }

  /** @returns {Promise<ReadResult>} */
  async scanAll() {
    const items = await this.#paginate("Scan", {
      ProjectionExpression: "#s, #i, #c",
      ExpressionAttributeNames: NAMES,
    });
    return toRows(items);
  }

  /** Every store with at least one row, sorted; reads only the Store attribute. */
  async listStores() {
    const items = await this.#paginate("Scan", {
      ProjectionExpression: "#s",
      ExpressionAttributeNames: { "#s": "Store" },
    });
    const stores = new Set();
    for (const item of items) {
      if (typeof item.Store?.S === "string") stores.add(item.Store.S);
    }
    return [...stores].sort(compareNames);
  }

  /**
   * Follow LastEvaluatedKey until the table (or partition) is read to the end.
   * @param {"Query" | "Scan"} operation
   * @param {object} request
   * @param {string} [table]  another table of the stack (default: the inventory table)
   */
  async #paginate(operation, request, table = this.table) {
    /** @type {any[]} */
    const items = [];
    /** @type {object | undefined} */
    let startKey;
    do {
      /** @type {Record<string, unknown>} */
      const body = { TableName: table, ...request };
      if (startKey) body.ExclusiveStartKey = startKey;
      const page = await this.#call(operation, body);
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /**
   * One call; denied under the enhanced flow, the page switches to the basic flow for good and
   * tries once more.
   * @param {string} operation @param {object} body
   */
  async #call(operation, body) {
    try {
      return await this.#callRenewing(operation, body);
    } catch (err) {
      if (!(err instanceof ServiceError) || !DENIED.has(err.code) || !this.signIn.canFallBack(err.flow)) {
        throw err;
      }
      this.signIn.useBasicFlow();
      try {
        return await this.#callRenewing(operation, body);
      } catch (again) {
        throw new GuestReadDenied(err, again);
      }
    }
  }

  /** @param {string} operation @param {object} body */
  async #callRenewing(operation, body) {
    try {
      return await this.#signedCall(operation, body);
    } catch (err) {
      if (!(err instanceof ServiceError) || !STALE_CREDENTIALS.has(err.code)) throw err;
      this.signIn.invalidate();
      return this.#signedCall(operation, body);
    }
  }

  /** @param {string} operation @param {object} body */
  async #signedCall(operation, body) {
    const { client, flow } = await this.#awsClient();
    try {
      return await callAwsJson(
        (url, init) => client.fetch(url, init),
        this.url,
        TARGET + operation,
        CONTENT_TYPE,
        body,
      );
    } catch (err) {
      // Which flow's credentials were refused decides whether falling back can help.
      if (err instanceof ServiceError) err.flow = flow;
      throw err;
    }
  }

  async #awsClient() {
    const c = await this.signIn.getCredentials();
    const key = `${c.accessKeyId}:${c.sessionToken}`;
    if (this.client?.key !== key) {
      this.client = {
        key,
        flow: c.flow,
        client: new AwsClient({
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          sessionToken: c.sessionToken || undefined,
          // Named explicitly: aws4fetch cannot infer them from an emulator's URL.
          service: "dynamodb",
          region: this.region,
          // A failed read is shown at once; the page retries on its next refresh anyway.
          retries: 2,
        }),
      };
    }
    return this.client;
  }
}

/**
 * A DynamoDB number (the text of an `N`) that holds a whole number, exactly, or null.
 * Never through a JavaScript number: that keeps 53 bits, and counts and their sums run to 38
 * digits. DynamoDB sends plain digits; the exponent form ("1E+30") is read exactly too.
 * @param {unknown} text
 * @returns {bigint | null}
 */
export function wholeNumber(text) {
  if (typeof text !== "string") return null;
  if (/^-?[0-9]+$/.test(text)) return BigInt(text);
  const m = /^(-?)([0-9]*)(?:\.([0-9]*))?[eE]([+-]?[0-9]+)$/.exec(text);
  if (!m || (m[2] + (m[3] ?? "")) === "") return null;
  const fraction = m[3] ?? "";
  const shift = Number(m[4]) - fraction.length;
  const digits = m[2] + fraction;
  if (shift >= 0) return BigInt(m[1] + digits + "0".repeat(shift));
  const cut = digits.length + shift;
  if (!/^0*$/.test(digits.slice(Math.max(0, cut)))) return null; // not whole
  return BigInt(m[1] + (digits.slice(0, Math.max(0, cut)) || "0"));
}

/**
 * @param {any[]} items  DynamoDB items in the JSON wire format
 * @returns {ReadResult}
 */
export function toRows(items) {
  /** @type {Row[]} */
  const rows = [];
  let skipped = 0;
  for (const item of items) {
    const store = item.Store?.S;
    const name = item.Item?.S;
    const count = wholeNumber(item.Count?.N);
    if (typeof store !== "string" || typeof name !== "string" || count === null) {
      skipped += 1;
      continue;
    }
    rows.push({ store, item: name, count });
  }
  return { rows, skipped };
}

/** Case-insensitive, number-aware ordering for names shown to people. */
export function compareNames(/** @type {string} */ a, /** @type {string} */ b) {
  return a.localeCompare(b, "en", { sensitivity: "base", numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Summary rows (wire format) as the page's view of all stores: one line per item with where it
 * is low, and per store its low items, stores with the most low items first.
 * @param {any[]} storeRows  Kind=store rows
 * @param {any[]} itemRows  Kind=item rows
 * @param {number} threshold
 */
export function summaryView(storeRows, itemRows, threshold) {
  // Members (Items, Stores) are counted in numbers; Units and counts are exact.
  const num = (/** @type {any} */ v) => Number(v?.N ?? 0);
  const exact = (/** @type {any} */ v) => wholeNumber(v?.N ?? "0") ?? 0n;
  const names = (/** @type {any} */ m) => Object.keys(m?.M ?? {}).sort(compareNames);
  const lines = itemRows
    .filter((r) => typeof r.Name?.S === "string" && num(r.Stores) > 0)
    .map((r) => ({
      store: "All stores",
      item: r.Name.S,
      count: exact(r.Units),
      low: exact(r.Units) <= BigInt(Math.floor(threshold)), // count <= 2.5 is count <= 2
      lowIn: names(r.LowStores),
    }))
    .sort((a, b) => compareNames(a.item, b.item));
  const lowStores = storeRows
    .filter((r) => typeof r.Name?.S === "string" && num(r.Items) > 0)
    .map((r) => ({
      store: r.Name.S,
      itemCount: num(r.Items),
      items: names(r.LowItems).map((item) => ({ item, count: exact(r.LowItems.M[item]) })),
    }))
    .sort((a, b) => b.items.length - a.items.length || compareNames(a.store, b.store));
  return { lines, lowStores };
}
