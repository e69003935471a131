// Wires the page together: configuration, sign-in, reads, the store menu and the refresh loop.

import { ConfigError, errorText, loadConfig } from "./config.js";
import { GuestSignIn } from "./cognito.js";
import { SignInView } from "./signin_view.js";
import { RENEW_TOKEN_BEFORE_MS, SignInRequired, StaffSession, WrongPassword } from "./staff.js";
import { compareNames, GuestReadDenied, InventoryReader, summaryView } from "./dynamo.js";
import { ServiceError } from "./awsjson.js";
import { lowByStore, storeLines, totalLines } from "./inventory.js";
import { View } from "./view.js";

const REFRESH_SECONDS = 30;
// However soon the id token expires, renewals are at least this far apart (a clock that runs
// ahead of Cognito's would otherwise renew in a loop).
const MIN_RENEW_DELAY_MS = 30_000;

/** The store named in the address (`#store=Berlin`), "" for all stores. */
function storeFromHash() {
  const match = /^#store=(.*)$/.exec(window.location.hash);
  if (!match) return "";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return "";
  }
}

/**
 * What to tell the user when something failed, with what they can do about it.
 * @param {unknown} err
 * @param {"config" | "sign-in" | "read"} stage
 * @param {{table?: string, local?: boolean, member?: boolean}} context  member: a signed-in
 *   member of the staff (private dashboard), not a guest
 */
export function describeFailure(err, stage, { table = "", local = false, member = false } = {}) {
  const reason = errorText(err);
  if (stage === "config" || err instanceof ConfigError) {
    return {
      title: "The dashboard's configuration could not be loaded",
      reason,
      hint: "Run `inventory provision` again: it writes config.json beside this page.",
    };
  }
  if (err instanceof GuestReadDenied) {
    return {
      title: "Reading the inventory failed",
      reason,
      hint:
        "Run `inventory provision` to repair the identity pool (basic flow allowed) and the " +
        "dashboard role's trust; `inventory status` shows what is wrong.",
    };
  }
  const unreachable = err instanceof ServiceError && err.network;
  const reachHint = local
    ? "Is the emulator still running? Start it with `inventory local start`."
    : "Check your network connection; the page tries again at the next refresh.";
  if (stage === "sign-in") {
    return {
      title: "Sign-in failed",
      reason: `Could not get ${member ? "your" : "guest"} credentials from Amazon Cognito: ${reason}`,
      hint: unreachable
        ? reachHint
        : "Check identityPoolId in config.json, or run `inventory provision` to repair the stack.",
    };
  }
  const code = err instanceof ServiceError ? err.code : "";
  let hint = unreachable ? reachHint : "The page tries again at the next refresh.";
  if (code === "ResourceNotFoundException") {
    hint = `The table ${table} does not exist: run \`inventory provision\`.`;
  } else if (code === "AccessDeniedException" && member) {
    hint = "Your account may not read this: `inventory staff list` shows the stores each member may read.";
  } else if (code === "AccessDeniedException") {
    hint = "The dashboard's role may not read this table: run `inventory provision` to repair it.";
  }
  return { title: "Reading the inventory failed", reason: `DynamoDB: ${reason}`, hint };
}

class Dashboard {
  /** @param {View} view */
  constructor(view) {
    this.view = view;
    this.selected = storeFromHash();
    /** @type {import("./config.js").DashboardConfig | null} */
    this.config = null;
    /** @type {InventoryReader | null} */
    this.reader = null;
    this.generation = 0;
    this.lastReadAt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {StaffSession | null} a private dashboard's signed-in staff member */
    this.staff = null;
    /** @type {SignInView | null} */
    this.signInView = null;
    /** @type {{session: string, username: string} | null} the first sign-in's open step */
    this.newPasswordStep = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.renewTimer = undefined;
  }

  async start() {
    try {
      this.config = await loadConfig(window.fetch.bind(window));
    } catch (err) {
      this.view.setStatus("Not signed in.");
      this.view.setNotice(describeFailure(err, "config"));
      return;
    }
    let storage = null;
    try {
      storage = window.localStorage;
    } catch {
      // Storage blocked: the guest identity is simply not remembered.
    }
    const signIn = this.config.access === "private" ? this.#staffSession(this.config) : new GuestSignIn({
      url: this.config.cognitoUrl,
      identityPoolId: this.config.identityPoolId,
      fetchFn: window.fetch.bind(window),
      now: () => Date.now(),
      storage,
      stsUrl: this.config.stsUrl,
      roleArn: this.config.dashboardRoleArn,
    });
    this.reader = new InventoryReader({
      url: this.config.dynamodbUrl,
      region: this.config.region,
      table: this.config.table,
      signIn,
    });
    this.view.store.addEventListener("change", () => this.select(this.view.store.value));
    this.view.refresh.addEventListener("click", () => this.refresh());
    window.addEventListener("hashchange", () => this.select(storeFromHash()));
    document.addEventListener("visibilitychange", () => {
      // A hidden tab does not poll; coming back shows fresh data at once if it is stale.
      if (document.visibilityState === "visible" && Date.now() - this.lastReadAt >= REFRESH_SECONDS * 1000) {
        this.refresh();
      }
    });
    if (this.staff) {
      if (!this.staff.signedIn) {
        this.showSignIn();
        return;
      }
      this.#signedIn();
    }
    await this.refresh();
  }

  /** @param {import("./config.js").DashboardConfig} config */
  #staffSession(config) {
    let storage = null;
    try {
      // This tab only: a reload keeps the session, closing the tab ends it.
      storage = window.sessionStorage;
    } catch {
      // Storage blocked: every reload asks to sign in.
    }
    const staff = new StaffSession({
      idpUrl: config.idpUrl,
      identityUrl: config.cognitoUrl,
      region: config.region,
      userPoolId: /** @type {string} */ (config.userPoolId),
      clientId: /** @type {string} */ (config.userPoolClientId),
      identityPoolId: config.identityPoolId,
      fetchFn: window.fetch.bind(window),
      now: () => Date.now(),
      storage,
    });
    const view = new SignInView();
    view.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitSignIn(view.email.value.trim(), view.password.value);
    });
    view.newPassForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitNewPassword(view.newPassword.value, view.confirm.value);
    });
    view.signOut.addEventListener("click", () => this.signOut());
    const footer = document.getElementById("footer");
    if (footer) {
      footer.textContent = "Staff sign in through Amazon Cognito; the page reads the inventory " +
        "straight from Amazon DynamoDB with the signed-in member's credentials, read-only, and " +
        "only the stores the member is allowed.";
    }
    this.staff = staff;
    this.signInView = view;
    return staff;
  }

  /** Back to the sign-in form; the address (the selected store) is left as it is. */
  showSignIn(message = "") {
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    this.generation += 1; // a read still under way is ignored when it answers
    this.lastReadAt = 0;
    this.newPasswordStep = null;
    this.signInView?.showSignIn(message);
  }

  /** @param {string} email @param {string} password */
  async #submitSignIn(email, password) {
    const view = this.signInView;
    const staff = this.staff;
    if (!view || !staff) return;
    if (!email || !password) {
      view.setError("Enter your e-mail address and password.");
      return;
    }
    view.setBusy(true);
    view.setError("");
    try {
      const step = await staff.signIn(email, password);
      if (step.kind === "new-password") {
        this.newPasswordStep = step;
        view.showNewPassword();
        return;
      }
    } catch (err) {
      view.password.value = "";
      view.setBusy(false);
      view.setError(this.#signInFailure(err));
      view.password.focus();
      return;
    }
    this.#signedIn();
    await this.refresh();
  }

  /** @param {string} password @param {string} confirm */
  async #submitNewPassword(password, confirm) {
    const view = this.signInView;
    const staff = this.staff;
    const step = this.newPasswordStep;
    if (!view || !staff) return;
    if (!step) {
      this.showSignIn("Sign in again with the temporary password from your invitation.");
      return;
    }
    if (!password || password !== confirm) {
      view.setError(password ? "The two passwords differ." : "Choose a new password.");
      return;
    }
    view.setBusy(true);
    view.setError("");
    try {
      await staff.setNewPassword(step, password);
    } catch (err) {
      view.setBusy(false);
      if (err instanceof ServiceError && err.code === "InvalidPasswordException") {
        view.setError(`Choose another password: ${err.message}`);
        view.newPassword.focus();
      } else {
        // The step's session is spent or expired (Cognito gives it minutes): start again.
        this.showSignIn(this.#signInFailure(err));
      }
      return;
    }
    this.newPasswordStep = null;
    this.#signedIn();
    await this.refresh();
  }

  /** @param {unknown} err */
  #signInFailure(err) {
    if (err instanceof WrongPassword) return err.message;
    if (err instanceof ServiceError && err.network) {
      const local = this.config?.endpoint != null;
      return `Could not reach Amazon Cognito (${err.message}). ` +
        (local ? "Is the emulator still running?" : "Check your network connection.");
    }
    return `Sign-in failed: ${errorText(err)}`;
  }

  #signedIn() {
    const staff = this.staff;
    if (!staff || !this.signInView) return;
    this.signInView.showSignedIn(staff.who);
    this.#scheduleRenewal();
  }

  /** Renew the id token from the refresh token a while before it expires. */
  #scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const staff = this.staff;
    if (!staff?.signedIn) return;
    const due = Math.max(MIN_RENEW_DELAY_MS, staff.tokenLife() - RENEW_TOKEN_BEFORE_MS);
    this.renewTimer = setTimeout(async () => {
      try {
        await staff.renewIfDue();
      } catch (err) {
        if (err instanceof SignInRequired) {
          this.showSignIn(err.message);
          return;
        }
        // Not reachable now: the next read or renewal tries again.
      }
      this.#scheduleRenewal();
    }, due);
  }

  async signOut() {
    const staff = this.staff;
    if (!staff) return;
    this.showSignIn("You have signed out.");
    await staff.signOut();
  }

  /** @param {string} store */
  select(store) {
    if (store === this.selected) return;
    this.selected = store;
    // The address names the store, so a view can be bookmarked or shared.
    const url = store ? `#store=${encodeURIComponent(store)}` : window.location.pathname + window.location.search;
    history.replaceState(null, "", url);
    this.refresh();
  }

  async refresh() {
    const config = this.config;
    const reader = this.reader;
    if (!config || !reader) return;
    if (this.staff && !this.staff.signedIn) return; // the sign-in form is up
    clearTimeout(this.timer);
    const generation = ++this.generation;
    const allowed = this.staff?.stores ?? [];
    if (allowed.length && !allowed.includes(this.selected)) {
      // A member of some stores: one of its stores, never All stores or another store.
      this.selected = allowed[0];
      history.replaceState(null, "", `#store=${encodeURIComponent(this.selected)}`);
    }
    const store = this.selected;
    this.view.setStatus(this.lastReadAt ? "Refreshing…" : "Signing in and reading…", true);

    let stage = /** @type {"sign-in" | "read"} */ ("sign-in");
    try {
      await reader.signIn.getCredentials();
      stage = "read";
      const data = allowed.length
        ? await this.readMember(reader, store, allowed, config.lowStockThreshold)
        : await this.read(reader, store, config.lowStockThreshold, config.summaryTable);
      if (generation !== this.generation) return; // a newer refresh (other store) took over
      this.lastReadAt = Date.now();
      this.view.setNotice(null);
      this.view.setStores(data.stores, store, allowed.length === 0);
      if (data.lines.length === 0) {
        this.view.showEmpty({
          table: config.table, store, local: config.endpoint !== null, stack: config.stack,
        });
      } else {
        this.view.showInventory({ ...data, store, threshold: config.lowStockThreshold });
      }
      this.view.setReadAt(this.lastReadAt, REFRESH_SECONDS);
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof SignInRequired) {
        this.showSignIn(err.message);
        return;
      }
      this.view.setNotice(describeFailure(err, stage, {
        table: config.table, local: config.endpoint !== null, member: this.staff !== null,
      }));
      if (this.lastReadAt) {
        // Keep the last good data on screen, and say how old it is.
        this.view.setReadAt(this.lastReadAt, REFRESH_SECONDS, true);
      } else {
        this.view.setStatus("No data read yet.");
      }
    } finally {
      if (generation === this.generation && document.visibilityState !== "hidden") {
        this.timer = setTimeout(() => this.refresh(), REFRESH_SECONDS * 1000);
      }
    }
  }

  /**
   * A member of some stores reads only those: its store's rows (a Query on its partition key,
   * all its role allows), and the menu is its stores (from its id token).
   * @param {InventoryReader} reader
   * @param {string} store
   * @param {string[]} stores
   * @param {number} threshold
   */
  async readMember(reader, store, stores, threshold) {
    const { rows, skipped } = await reader.queryStore(store);
    return { lines: storeLines(rows, threshold), stores, storeCount: 1, lowRows: 0, lowStores: [], skipped };
  }

  /**
   * All stores: one Scan gives the totals and the store list. One store: a Query for its rows,
   * and a Scan of only the Store attribute for the menu.
   * With the stack's summaries, All stores and the store menu are Queries of the
   * summary rows instead: their cost grows with stores and items, not stores x items.
   * @param {InventoryReader} reader
   * @param {string} store
   * @param {number} threshold
   * @param {string | null} summaryTable
   */
  async read(reader, store, threshold, summaryTable) {
    if (summaryTable && store === "") {
      const [storeRows, itemRows] = await Promise.all([
        reader.querySummaries(summaryTable, "store"),
        reader.querySummaries(summaryTable, "item"),
      ]);
      const { lines, lowStores } = summaryView(storeRows, itemRows, threshold);
      return {
        lines,
        stores: lowStores.map((s) => s.store).sort(compareNames),
        storeCount: lowStores.length,
        lowRows: lowStores.reduce((n, s) => n + s.items.length, 0),
        lowStores,
        skipped: 0,
      };
    }
    if (summaryTable) {
      const [{ rows, skipped }, storeRows] = await Promise.all([
        reader.queryStore(store),
        reader.querySummaries(summaryTable, "store", true),
      ]);
      const stores = storeRows
        .filter((r) => typeof r.Name?.S === "string" && Number(r.Items?.N ?? 0) > 0)
        .map((r) => r.Name.S)
        .sort(compareNames);
      return { lines: storeLines(rows, threshold), stores, storeCount: 1, lowRows: 0, lowStores: [], skipped };
    }
    if (store === "") {
      const { rows, skipped } = await reader.scanAll();
      const lowStores = lowByStore(rows, threshold);
      return {
        lines: totalLines(rows, threshold),
        stores: lowStores.map((s) => s.store).sort(compareNames),
        storeCount: lowStores.length,
        lowRows: lowStores.reduce((n, s) => n + s.items.length, 0),
        lowStores,
        skipped,
      };
    }
    const [{ rows, skipped }, stores] = await Promise.all([reader.queryStore(store), reader.listStores()]);
    return { lines: storeLines(rows, threshold), stores, storeCount: 1, lowRows: 0, lowStores: [], skipped };
  }
}

const dashboard = new Dashboard(new View());
dashboard.start().catch((err) => {
  // A bug must still leave a message, never a blank page.
  new View().setNotice({ title: "The dashboard stopped", reason: errorText(err), hint: "Reload the page." });
});
