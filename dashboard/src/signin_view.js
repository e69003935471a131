// The sign-in form of a private dashboard, the first sign-in's new password, and who is signed
// in. Text goes in with textContent only (an address or a Cognito message is never HTML).

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

export class SignInView {
  constructor() {
    this.section = byId("signin");
    this.form = /** @type {HTMLFormElement} */ (byId("signin-form"));
    this.newPassForm = /** @type {HTMLFormElement} */ (byId("newpass-form"));
    this.email = /** @type {HTMLInputElement} */ (byId("signin-email"));
    this.password = /** @type {HTMLInputElement} */ (byId("signin-password"));
    this.newPassword = /** @type {HTMLInputElement} */ (byId("newpass-password"));
    this.confirm = /** @type {HTMLInputElement} */ (byId("newpass-confirm"));
    this.error = byId("signin-error");
    this.account = byId("account");
    this.who = byId("who");
    this.signOut = /** @type {HTMLButtonElement} */ (byId("signout"));
    // What the signed-in dashboard shows; hidden while signing in.
    this.dashboard = ["controls", "notice", "empty", "content"].map(byId);
  }

  /**
   * Show the sign-in form (and nothing of the dashboard).
   * @param {string} [message]  why (a session that ended), shown above the form
   */
  showSignIn(message = "") {
    for (const node of this.dashboard) node.hidden = true;
    this.account.hidden = true;
    this.section.hidden = false;
    this.form.hidden = false;
    this.newPassForm.hidden = true;
    this.password.value = "";
    this.newPassword.value = "";
    this.confirm.value = "";
    this.setError(message);
    this.setBusy(false);
    (this.email.value ? this.password : this.email).focus();
  }

  showNewPassword() {
    this.form.hidden = true;
    this.newPassForm.hidden = false;
    this.setError("");
    this.setBusy(false);
    this.newPassword.focus();
  }

  /** @param {string} who */
  showSignedIn(who) {
    this.section.hidden = true;
    this.password.value = "";
    this.newPassword.value = "";
    this.confirm.value = "";
    byId("controls").hidden = false;
    this.who.textContent = who;
    this.account.hidden = false;
  }

  /** @param {string} message */
  setError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    for (const button of this.section.querySelectorAll("button")) {
      button.disabled = busy;
      button.setAttribute("aria-busy", String(busy));
    }
  }
}
