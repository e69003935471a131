// The store's upload page: key -> file -> check -> upload with progress -> load report.
// Text reaches the page only through textContent: store names, file names, reasons and server
// messages are data.

import { errorText } from "./config.js";
import { checkBytes, fileNameProblem, InvalidFile } from "./csvcheck.js";
import { postToS3, UploadEndpoint, UploadError } from "./uploadapi.js";

// As long as `inventory upload --wait` waits by default.
const REPORT_TIMEOUT_S = 120;
const POLL_INTERVAL_MS = 1000;
const MAX_LISTED = 200; // problems listed on the page; the rest are counted
const HISTORY_ROWS = 10;
const STORAGE_PREFIX = "inventory.storeKey:";

/** @param {string} id */
function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`upload.html lacks #${id}`);
  return node;
}

/** @param {string} id @param {boolean} shown */
function show(id, shown) {
  $(id).hidden = !shown;
}

/** @param {string} id @param {string} text */
function setText(id, text) {
  $(id).textContent = text;
}

/** @param {number} n @param {string} one @param {string} [many] */
function plural(n, one, many = one + "s") {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}

/** @param {number} bytes */
function size(bytes) {
  if (bytes < 1024) return plural(bytes, "byte");
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * What to tell the store when something failed, and what it can do about it.
 * @param {unknown} err
 * @returns {{title: string, reason: string, hint: string}}
 */
export function describeUploadError(err) {
  const reason = errorText(err);
  if (!(err instanceof UploadError)) {
    return { title: "Something went wrong", reason, hint: "Reload the page and try again." };
  }
  if (err.source === "s3") {
    if (err.code === "EntityTooLarge") {
      return { title: "The file is too large", reason: `S3 refused it: ${reason}`, hint: "Split it into smaller files, or ask your operator about the limit." };
    }
    if (err.network) {
      return { title: "The file could not be sent", reason, hint: "Check your connection, then upload the file again." };
    }
    return {
      title: "S3 refused the file",
      reason: err.code ? `${err.code}: ${reason}` : reason,
      hint: "Upload the file again: each upload gets a fresh, short-lived permission.",
    };
  }
  if (err.network) {
    return { title: "The upload endpoint could not be reached", reason, hint: "Check your connection, then try again." };
  }
  switch (err.code) {
    case "missing_key":
      return { title: "No store key was sent", reason, hint: "Enter the key your operator gave you." };
    case "malformed_key":
      return { title: "That is not a store key", reason, hint: "Copy the whole key exactly as `inventory stores add` printed it." };
    case "unknown_key":
      return { title: "This key is not known", reason, hint: "It may have been replaced by a new one: ask your operator for your store's current key." };
    case "revoked_key":
      return { title: "This key no longer works", reason, hint: "Ask your operator for your store's current key (`inventory stores rotate` makes a new one)." };
    case "forbidden":
      return { title: "Not allowed", reason, hint: "Ask your operator: this key may not do that." };
    case "too_large":
      return { title: "The file is too large", reason, hint: "Split it into smaller files, or ask your operator about the limit." };
    case "bad_request":
      return { title: "The upload endpoint refused the request", reason, hint: "Reload the page and try again." };
    default:
      break;
  }
  if (err.endpointClosed) {
    return {
      title: "The upload endpoint is closed",
      reason: `HTTP 403 ${reason}: the endpoint refused the request before looking at the key`,
      hint: "This is not about your key. Ask your operator to run `inventory provision`, which opens the endpoint again.",
    };
  }
  if (err.status === 401 || err.status === 403) {
    return { title: "The key was refused", reason, hint: "Ask your operator for your store's current key." };
  }
  if (err.status === 413) {
    return { title: "The file is too large", reason, hint: "Split it into smaller files." };
  }
  return { title: "The upload endpoint failed", reason: err.status ? `HTTP ${err.status}: ${reason}` : reason, hint: "Try again in a minute." };
}

/** The key remembered on this browser for one endpoint (a store may use several stacks). */
class KeyStore {
  /** @param {string} uploadUrl */
  constructor(uploadUrl) {
    this.name = STORAGE_PREFIX + uploadUrl;
  }

  get() {
    try {
      return window.localStorage.getItem(this.name);
    } catch {
      return null; // storage disabled: the key is asked for on every visit
    }
  }

  /** @param {string} key */
  set(key) {
    try {
      window.localStorage.setItem(this.name, key);
    } catch {
      // storage disabled or full: the page still works for this visit
    }
  }

  forget() {
    try {
      window.localStorage.removeItem(this.name);
    } catch {
      // nothing stored
    }
  }
}

/**
 * config.json beside the page; `uploadUrl` null (or absent) means the stack has no endpoint.
 * @returns {Promise<string | null>}
 */
async function loadUploadUrl() {
  let response;
  try {
    response = await fetch("config.json", { cache: "no-store" });
  } catch (err) {
    throw new Error(`could not fetch config.json: ${errorText(err)}`);
  }
  if (!response.ok) throw new Error(`could not fetch config.json: HTTP ${response.status}`);
  let raw;
  try {
    raw = await response.json();
  } catch {
    throw new Error("config.json is not valid JSON");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error("config.json is not a JSON object");
  const url = raw.uploadUrl ?? null;
  if (url === null) return null;
  if (typeof url !== "string" || !/^https?:\/\/[^\s/]+/.test(url)) {
    throw new Error(`config.json is invalid: "uploadUrl" must be null or an http(s) URL`);
  }
  return url;
}

/**
 * @param {string} tbodyParent  the table's id
 * @param {{line: number | null, reason: string}[]} rows
 */
function fillLines(tbodyParent, rows) {
  const tbody = /** @type {HTMLElement} */ ($(tbodyParent).querySelector("tbody"));
  tbody.replaceChildren();
  for (const row of rows.slice(0, MAX_LISTED)) {
    const tr = document.createElement("tr");
    const line = document.createElement("td");
    line.className = "num";
    line.textContent = row.line === null ? "-" : String(row.line);
    const reason = document.createElement("td");
    reason.textContent = row.reason;
    tr.append(line, reason);
    tbody.append(tr);
  }
}

class UploadPage {
  constructor() {
    /** @type {KeyStore | null} */
    this.keys = null;
    /** @type {UploadEndpoint | null} */
    this.endpoint = null;
    this.uploadUrl = "";
    this.store = "";
    /** @type {File | null} */
    this.file = null;
    this.busy = false;
  }

  async start() {
    let uploadUrl;
    try {
      uploadUrl = await loadUploadUrl();
    } catch (err) {
      this.status("");
      this.notice({
        title: "The page's configuration could not be loaded",
        reason: errorText(err),
        hint: "Ask your operator to run `inventory provision` again: it writes config.json beside this page.",
      });
      return;
    }
    if (uploadUrl === null) {
      this.status("");
      show("no-uploads", true);
      return;
    }
    this.uploadUrl = uploadUrl;
    this.keys = new KeyStore(uploadUrl);
    this.wire();
    const remembered = this.keys.get();
    if (remembered) await this.useKey(remembered, true);
    else this.askForKey("");
  }

  wire() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = /** @type {HTMLInputElement} */ ($("key")).value.trim();
      if (!key) {
        this.notice({ title: "Enter your store key", reason: "The key field is empty.", hint: "Paste the key your operator gave you." });
        return;
      }
      void this.useKey(key, false);
    });
    $("forget").addEventListener("click", () => this.forget());
    const input = /** @type {HTMLInputElement} */ ($("file"));
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = ""; // so that picking the same (edited) file again is a change too
      if (file) void this.checkFile(file);
    });
    // A file dropped beside the box would make the browser open it, leaving the page.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
    const drop = $("drop");
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file && !this.busy) void this.checkFile(file);
    });
    $("send").addEventListener("click", () => void this.send());
    $("send-anyway").addEventListener("click", () => void this.send());
  }

  /** @param {string} text */
  status(text) {
    setText("status", text);
  }

  /** @param {{title: string, reason: string, hint: string} | null} notice */
  notice(notice) {
    show("notice", notice !== null);
    if (notice === null) return;
    setText("notice-title", notice.title);
    setText("notice-reason", notice.reason);
    setText("notice-hint", notice.hint);
  }

  /**
   * @param {string} why
   * @param {boolean} [keepTyped]  leave what was typed (the key could not be checked)
   */
  askForKey(why, keepTyped = false) {
    this.store = "";
    this.endpoint = null;
    for (const id of ["store-panel", "file-panel", "check-panel", "progress-panel", "report-panel", "history-panel"]) show(id, false);
    show("key-panel", true);
    if (!keepTyped) /** @type {HTMLInputElement} */ ($("key")).value = "";
    this.status(why || "Enter your store key to start.");
  }

  /**
   * Ask the endpoint whose key this is; remember it only once it is accepted.
   * @param {string} key
   * @param {boolean} remembered
   */
  async useKey(key, remembered) {
    const keys = /** @type {KeyStore} */ (this.keys);
    this.notice(null);
    this.status("Checking your key…");
    /** @type {HTMLButtonElement} */ ($("key-submit")).disabled = true;
    const endpoint = new UploadEndpoint(this.uploadUrl, key, window.fetch.bind(window));
    try {
      const { store } = await endpoint.whoami();
      keys.set(key);
      this.endpoint = endpoint;
      this.store = store;
      show("key-panel", false);
      setText("store-name", store);
      show("store-panel", true);
      show("file-panel", true);
      this.status(`Ready: files you send are loaded for ${store}.`);
      void this.showHistory();
    } catch (err) {
      const refused = err instanceof UploadError && err.keyRefused;
      if (refused && remembered) keys.forget(); // a refused key is no use to remember
      const message = describeUploadError(err);
      if (remembered && refused) message.hint = `The key remembered on this browser was forgotten. ${message.hint}`;
      this.askForKey(refused ? "Enter your store key." : "The key could not be checked.", !refused);
      if (!refused && remembered) {
        message.hint = `${message.hint} Your key is still remembered: reload the page to retry.`;
        show("key-panel", false);
      }
      this.notice(message);
    } finally {
      /** @type {HTMLButtonElement} */ ($("key-submit")).disabled = false;
    }
  }

  forget() {
    /** @type {KeyStore} */ (this.keys).forget();
    this.notice(null);
    this.file = null;
    /** @type {HTMLInputElement} */ ($("file")).value = "";
    this.askForKey("The key was forgotten on this browser.");
  }

  /** @param {File} file */
  async checkFile(file) {
    this.file = null;
    this.notice(null);
    show("progress-panel", false);
    show("report-panel", false);
    show("send", false);
    show("send-anyway", false);
    show("check-warnings", false);
    show("check-panel", true);
    setText("check-title", `Check of ${file.name}`);
    setText("check-summary", "Checking…");
    this.status(`Checking ${file.name}…`);

    /** @type {{line: number | null, reason: string}[]} */
    let problems = [];
    let refusedWhole = false;
    /** @type {import("./csvcheck.js").InventoryCheck | null} */
    let result = null;
    const nameProblem = fileNameProblem(file.name);
    if (nameProblem) {
      problems = [{ line: null, reason: nameProblem }];
      refusedWhole = true;
    } else {
      try {
        // As this store's own upload: the loader rejects rows of other stores (warned below).
        result = checkBytes(new Uint8Array(await file.arrayBuffer()), { store: this.store });
        if (result.emptyReason) {
          problems = [{ line: null, reason: result.emptyReason }];
          refusedWhole = true;
        } else {
          problems = result.rejected.filter((row) => !row.otherStore);
        }
      } catch (err) {
        refusedWhole = true;
        problems = [err instanceof InvalidFile ? { line: err.line, reason: err.reason } : { line: null, reason: `cannot read: ${errorText(err)}` }];
      }
    }
    fillLines("check-problems", problems);
    show("check-problems-box", problems.length > 0);

    if (refusedWhole || !result) {
      setText("check-summary", `${file.name} cannot be loaded, so nothing was sent. Fix it and choose it again.`);
      this.status(`${file.name} was refused by the check; nothing was sent.`);
      return;
    }
    const warnings = [];
    for (const dup of result.duplicates) {
      warnings.push(`line ${dup.line} repeats ${dup.store} / ${dup.item} from line ${dup.previousLine}; the later row wins`);
    }
    const foreign = result.rejected.filter((row) => row.otherStore);
    if (foreign.length) {
      warnings.push(`rows naming another store than yours (${this.store}) are rejected: ${plural(foreign.length, "row")}`);
    }
    for (const row of foreign) warnings.push(`line ${row.line}: ${row.reason}`);
    const list = $("check-warnings");
    list.replaceChildren();
    for (const text of warnings.slice(0, MAX_LISTED)) {
      const li = document.createElement("li");
      li.textContent = `Warning: ${text}`;
      list.append(li);
    }
    if (warnings.length > MAX_LISTED) {
      const li = document.createElement("li");
      li.textContent = `and ${plural(warnings.length - MAX_LISTED, "more warning")}`;
      list.append(li);
    }
    show("check-warnings", warnings.length > 0);

    const willLoad = result.rows.length;
    const read = `${plural(result.rowsRead, "row")} read`;
    this.file = file;
    if (problems.length) {
      const more = problems.length > MAX_LISTED ? ` (the first ${MAX_LISTED} are listed)` : "";
      setText("check-summary", `${read}; ${plural(problems.length, "row")} would be rejected${more}. Fix the file, or upload it anyway: ${plural(willLoad, "row")} would load.`);
      show("send-anyway", true);
      this.status(`${file.name}: ${plural(problems.length, "row")} would be rejected; nothing was sent.`);
    } else if (willLoad === 0) {
      setText("check-summary", `${read}; none of them is a row of ${this.store}, so nothing would load.`);
      show("send-anyway", true);
      this.status(`${file.name}: no row of ${this.store}; nothing was sent.`);
    } else {
      setText("check-summary", `${read}; ${plural(willLoad, "row")} will load for ${this.store}.`);
      show("send", true);
      this.status(`${file.name} passed the check (${size(file.size)}). Ready to upload.`);
    }
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.busy = busy;
    for (const id of ["send", "send-anyway", "forget"]) /** @type {HTMLButtonElement} */ ($(id)).disabled = busy;
    /** @type {HTMLInputElement} */ ($("file")).disabled = busy;
    $("drop").classList.toggle("disabled", busy);
  }

  async send() {
    const file = this.file;
    const endpoint = this.endpoint;
    if (!file || !endpoint || this.busy) return;
    this.setBusy(true);
    this.notice(null);
    show("report-panel", false);
    show("progress-panel", true);
    const bar = /** @type {HTMLProgressElement} */ ($("progress"));
    bar.value = 0;
    setText("progress-text", "Asking for permission to upload…");
    this.status(`Uploading ${file.name}…`);
    try {
      const grant = await endpoint.grant(file.name, file.size);
      setText("progress-text", `Sending ${size(file.size)}…`);
      await postToS3(grant.post, file, (sent, total) => {
        const percent = total > 0 ? Math.min(100, Math.round((sent / total) * 100)) : 100;
        bar.value = percent;
        setText("progress-text", `Sent ${size(sent)} of ${size(total)} (${percent}%)`);
      });
      bar.value = 100;
      setText("progress-text", `Sent ${size(file.size)}. Waiting for the load report…`);
      this.status(`${file.name} was sent; the stack is loading it…`);
      // Sent: the buttons would send the same file twice; picking a file again is deliberate.
      this.file = null;
      show("send", false);
      show("send-anyway", false);
      const report = await this.waitForReport(endpoint, grant.report_url);
      if (report === null) {
        setText("progress-text", `Sent ${size(file.size)}. No load report yet.`);
        this.notice({
          title: "No load report yet",
          reason: `no load report after ${REPORT_TIMEOUT_S} s for ${grant.key}`,
          hint: "The file was stored and may still load. Ask your operator to check the loader (`inventory logs load`) before sending it again.",
        });
        this.status(`${file.name} was sent, but its load report did not arrive in time.`);
        return;
      }
      setText("progress-text", `Sent ${size(file.size)}. Loaded.`);
      this.showReport(report);
      void this.showHistory();
    } catch (err) {
      const message = describeUploadError(err);
      this.notice(message);
      this.status(`${file.name} was not uploaded: ${message.title.toLowerCase()}.`);
      show("progress-panel", false);
      if (err instanceof UploadError && err.keyRefused) {
        /** @type {KeyStore} */ (this.keys).forget();
        this.askForKey("Enter your store key.");
        this.notice({ ...message, hint: `The key remembered on this browser was forgotten. ${message.hint}` });
      }
    } finally {
      this.setBusy(false);
    }
  }

  /**
   * Poll the report until it is there, or REPORT_TIMEOUT_S passed (null).
   * @param {UploadEndpoint} endpoint
   * @param {string} reportUrl
   */
  async waitForReport(endpoint, reportUrl) {
    const deadline = Date.now() + REPORT_TIMEOUT_S * 1000;
    for (;;) {
      try {
        const report = await endpoint.report(reportUrl);
        if (report !== null) return report;
      } catch (err) {
        // The file is stored: a dropped connection or a failing endpoint while waiting is no
        // reason to stop waiting. A refused key is.
        const transient = err instanceof UploadError && (err.network || err.status >= 500);
        if (!transient) throw err;
      }
      if (Date.now() >= deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  /** The store's last load reports; a failure here only hides the list. */
  async showHistory() {
    const endpoint = this.endpoint;
    if (!endpoint) return;
    let reports;
    try {
      reports = await endpoint.reports();
    } catch {
      show("history-panel", false);
      return;
    }
    if (endpoint !== this.endpoint) return; // the key was forgotten meanwhile
    const tbody = /** @type {HTMLElement} */ ($("history").querySelector("tbody"));
    tbody.replaceChildren();
    const cell = (/** @type {string} */ text, numeric = false) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (numeric) td.className = "num";
      return td;
    };
    const count = (/** @type {unknown} */ n) => (typeof n === "number" ? n.toLocaleString("en") : "-");
    const newest = [...reports].sort((a, b) => String(b.when ?? "").localeCompare(String(a.when ?? "")));
    for (const report of newest.slice(0, HISTORY_ROWS)) {
      const tr = document.createElement("tr");
      const when = typeof report.when === "string" ? report.when.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "") : "-";
      tr.append(cell(when), cell(String(report.status ?? "-")), cell(count(report.loaded), true), cell(count(report.rejected_count), true));
      tbody.append(tr);
    }
    show("history-panel", reports.length > 0);
  }

  /** @param {Record<string, any>} report */
  showReport(report) {
    const rejected = Array.isArray(report.rejected) ? report.rejected : [];
    const rejectedCount = typeof report.rejected_count === "number" ? report.rejected_count : rejected.length;
    const number = (/** @type {unknown} */ value) => (typeof value === "number" ? value.toLocaleString("en") : "-");
    setText("report-message", typeof report.message === "string" ? report.message : "");
    setText("report-status", typeof report.status === "string" ? report.status : "-");
    setText("report-read", number(report.rows_read));
    setText("report-loaded", number(report.loaded));
    setText("report-rejected-count", number(rejectedCount));
    fillLines(
      "report-rejected",
      rejected.map((/** @type {any} */ row) => ({ line: typeof row.line === "number" ? row.line : null, reason: String(row.reason ?? "") })),
    );
    show("report-rejected-box", rejected.length > 0);
    const unlisted = rejectedCount - Math.min(rejected.length, MAX_LISTED);
    show("report-more", unlisted > 0);
    setText("report-more", unlisted > 0 ? `and ${plural(unlisted, "more rejected line")} not listed here` : "");
    $("report-panel").classList.toggle("failed", report.status !== "loaded" || rejectedCount > 0);
    show("report-panel", true);
    const loaded = typeof report.loaded === "number" ? report.loaded : 0;
    this.status(`Done: ${plural(loaded, "row")} loaded for ${this.store}, ${plural(rejectedCount, "line")} rejected.`);
  }
}

void new UploadPage().start();
