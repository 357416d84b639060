// The sign-in page: email first, then sign in or sign up, a code to
// confirm, and — when Firefox opened the page for Sync
// (context=oauth_webchannel_v1) — the hand-over to Firefox as its own
// WebChannel expects it (FxAccountsWebChannel.sys.mjs): fxa_status,
// can_link_account, login (the session), then an authorization code whose
// keys_jwe carries the Sync key to Firefox's ephemeral key, and oauth_login.
"use strict";

(() => {
  const { api, bytes, channel, fetchKB, keysJwe, newCredentials, oldsyncKey, stretch, OLDSYNC } = window.fxa;
  const params = new URLSearchParams(location.search);
  // Firefox opened the page for Sync with its OAuth parameters, or (newer
  // Firefox, page opened without them) gives them on request.
  let fromFirefox = params.get("context") === "oauth_webchannel_v1" && params.has("keys_jwk");
  const $ = (id) => document.getElementById(id);
  // What this sign-in knows so far. kB and the password never leave it.
  const flow = { email: "", uid: "", sessionToken: "", keyFetchToken: "", unwrapBKey: null, signup: false, verification: "" };
  let firefoxStatus = null;

  function show(step) {
    for (const el of document.querySelectorAll("main > form, main > section")) el.hidden = el.id !== step;
    for (const el of document.querySelectorAll("[data-email]")) el.textContent = flow.email;
    const first = $(step)?.querySelector("input");
    if (first) first.focus();
  }
  function say(text) {
    $("status").textContent = text;
  }
  function fail(text) {
    $("error").textContent = text;
  }
  function explain(e) {
    const byErrno = {
      102: "There is no account with this email.",
      103: "The password is not right.",
      105: "The code is not right, or has expired.",
      114: "Too many attempts. Try again later.",
      127: "The authorization code is not right, or has expired.",
      138: "Confirm this sign-in first.",
      183: "The code is not right, or has expired.",
      202: "This server does not take new accounts for this address.",
      201: "The server is busy. Try again in a moment.",
    };
    return (e && e.errno && byErrno[e.errno]) || (e && e.message) || String(e);
  }
  // Runs one step: the button is disabled while it works, errors are shown.
  function step(form, work) {
    $(form).addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.target.querySelector("button");
      fail("");
      button.disabled = true;
      try {
        await work();
      } catch (e) {
        say("");
        fail(explain(e));
      } finally {
        button.disabled = false;
      }
    });
  }

  step("step-email", async () => {
    flow.email = $("email").value.trim();
    const { exists } = await api("POST", "/account/status", { email: flow.email });
    show(exists ? "step-signin" : "step-signup");
  });

  async function login(password, unblockCode) {
    say("Checking your password…");
    const status = await api("POST", "/account/credentials/status", { email: flow.email }).catch(() => ({}));
    const clientSalt = status.currentVersion === "v2" ? status.clientSalt : null;
    const stretched = await stretch(flow.email, password, clientSalt);
    const body = { email: flow.email, authPW: stretched.authPW, service: "sync", reason: "signin", verificationMethod: "email-otp" };
    if (unblockCode) body.unblockCode = unblockCode;
    let answer;
    try {
      answer = await api("POST", "/account/login?keys=true", body);
    } catch (e) {
      if (e.errno === 120 && e.body.email && e.body.email !== flow.email) {
        // The account spells its address differently: V1 stretching is salted with it.
        flow.email = e.body.email;
        return login(password, unblockCode);
      }
      if (e.errno === 125) {
        flow.password = password;
        await api("POST", "/account/login/send_unblock_code", { email: flow.email });
        say("");
        show("step-unblock");
        return;
      }
      throw e;
    }
    flow.uid = answer.uid;
    flow.sessionToken = answer.sessionToken;
    flow.keyFetchToken = answer.keyFetchTokenVersion2 || answer.keyFetchToken;
    flow.unwrapBKey = stretched.unwrapBKey;
    delete flow.password;
    await afterSession(answer);
  }

  async function afterSession(answer) {
    if (answer.verified) return finish();
    say("");
    flow.verification = answer.verificationMethod;
    show(answer.verificationMethod === "totp-2fa" ? "step-totp" : "step-code");
  }

  step("step-signin", () => login($("signin-password").value));
  step("step-unblock", () => login(flow.password, $("unblock").value.trim()));

  step("step-signup", async () => {
    const password = $("signup-password").value;
    if (password !== $("signup-repeat").value) throw new Error("The passwords do not match.");
    if (password.length < 8) throw new Error("The password needs at least 8 characters.");
    say("Creating your account…");
    // kB is made here and leaves only wrapped under each stretching.
    const kB = bytes.random(32);
    const credentials = await newCredentials(flow.email, password, kB);
    const answer = await api("POST", "/account/create?keys=true", {
      email: flow.email,
      ...credentials.body,
      service: "sync",
      verificationMethod: "email-otp",
    });
    flow.signup = true;
    flow.uid = answer.uid;
    flow.sessionToken = answer.sessionToken;
    flow.keyFetchToken = answer.keyFetchTokenVersion2;
    flow.unwrapBKey = credentials.v2.unwrapBKey;
    await afterSession(answer);
  });

  step("step-code", async () => {
    say("Confirming…");
    await api("POST", "/session/verify_code", { code: $("code").value.trim() }, ["sessionToken", flow.sessionToken]);
    await finish();
  });

  step("step-totp", async () => {
    say("Confirming…");
    const { success } = await api("POST", "/session/verify/totp", { code: $("totp").value.trim() }, [
      "sessionToken",
      flow.sessionToken,
    ]);
    if (!success) throw new Error("The code is not right.");
    await finish();
  });

  document.addEventListener("click", async (event) => {
    const action = event.target?.dataset?.action;
    if (!action) return;
    event.preventDefault();
    fail("");
    try {
      if (action === "restart") show("step-email");
      if (action === "forgot") show("step-forgot");
      if (action === "resend") {
        await api("POST", "/session/resend_code", {}, ["sessionToken", flow.sessionToken]);
        say("We emailed you a new code.");
      }
    } catch (e) {
      fail(explain(e));
    }
  });

  // A forgotten password: a new kB, as Mozilla's reset does.
  step("step-forgot", async () => {
    await api("POST", "/password/forgot/send_otp", { email: flow.email });
    show("step-forgot-code");
  });
  step("step-forgot-code", async () => {
    const verified = await api("POST", "/password/forgot/verify_otp", { email: flow.email, code: $("forgot-code").value.trim() });
    const redeemed = await api("POST", "/password/forgot/verify_code", { code: verified.code }, ["passwordForgotToken", verified.token]);
    flow.resetToken = redeemed.accountResetToken;
    flow.email = verified.emailToHashWith || flow.email;
    show("step-reset");
  });
  step("step-reset", async () => {
    const password = $("reset-password").value;
    if (password !== $("reset-repeat").value) throw new Error("The passwords do not match.");
    if (password.length < 8) throw new Error("The password needs at least 8 characters.");
    say("Setting your new password…");
    const kB = bytes.random(32);
    const credentials = await newCredentials(flow.email, password, kB);
    const answer = await api("POST", "/account/reset?keys=true", { ...credentials.body, sessionToken: true }, [
      "accountResetToken",
      flow.resetToken,
    ]);
    delete flow.resetToken;
    flow.uid = answer.uid;
    flow.sessionToken = answer.sessionToken;
    flow.keyFetchToken = answer.keyFetchToken2 || answer.keyFetchToken;
    flow.unwrapBKey = answer.keyFetchToken2 ? credentials.v2.unwrapBKey : credentials.v1.unwrapBKey;
    await finish();
  });

  // A confirmed session: kB, the Sync key, and Firefox's hand-over.
  async function finish() {
    say("Getting your keys…");
    const kB = await fetchKB(flow.keyFetchToken, flow.unwrapBKey);
    flow.keyFetchToken = "";
    flow.unwrapBKey = null;
    const clientId = params.get("client_id") || "5882386c6d801776";
    const scoped = await api("POST", "/account/scoped-key-data", { client_id: clientId, scope: OLDSYNC }, [
      "sessionToken",
      flow.sessionToken,
    ]);
    const key = await oldsyncKey(kB, scoped[OLDSYNC].keyRotationTimestamp);
    kB.fill(0);
    if (!fromFirefox) {
      sessionStorage.setItem("fxa-session", JSON.stringify({ email: flow.email, uid: flow.uid, sessionToken: flow.sessionToken }));
      $("done-text").textContent = `Signed in as ${flow.email}. To sync, sign in from Firefox's menu (Sign in to sync) with this server configured.`;
      say("");
      show("step-done");
      return;
    }
    await handOver(key);
  }

  async function handOver(key) {
    say("Connecting Firefox…");
    const link = await channel.request("fxaccounts:can_link_account", { email: flow.email, uid: flow.uid });
    if (!link || !link.ok) throw new Error("Firefox did not take this account (another account was signed in to it).");
    const engines = firefoxStatus?.capabilities?.engines ?? ["addons", "bookmarks", "history", "passwords", "prefs", "tabs"];
    await channel.request("fxaccounts:login", {
      email: flow.email,
      sessionToken: flow.sessionToken,
      uid: flow.uid,
      verified: true,
      services: { sync: { offeredEngines: engines, declinedEngines: [] } },
    });
    const scope = params.get("scope") || `profile ${OLDSYNC}`;
    const scopedKeys = scope.split(" ").includes(OLDSYNC) ? { [OLDSYNC]: key } : {};
    const peer = JSON.parse(new TextDecoder().decode(bytes.unb64url(params.get("keys_jwk"))));
    const authorization = await api(
      "POST",
      "/oauth/authorization",
      {
        client_id: params.get("client_id"),
        response_type: "code",
        state: params.get("state"),
        scope,
        access_type: params.get("access_type") || "offline",
        code_challenge: params.get("code_challenge"),
        code_challenge_method: params.get("code_challenge_method") || "S256",
        keys_jwe: await keysJwe(peer, JSON.stringify(scopedKeys)),
      },
      ["sessionToken", flow.sessionToken],
    );
    await channel.request("fxaccounts:oauth_login", {
      code: authorization.code,
      state: authorization.state,
      redirect: authorization.redirect,
      action: flow.signup ? "signup" : "signin",
    });
    $("done-title").textContent = "Firefox is connected";
    $("done-text").textContent = `Firefox is signed in as ${flow.email} and starts syncing now. You can close this tab.`;
    say("");
    show("step-done");
    document.title = "Firefox is connected";
    document.body.dataset.signedIn = "true";
  }

  async function start() {
    if (location.pathname.startsWith("/oauth/success") || location.pathname === "/connect_another_device") {
      $("done-title").textContent = "Your account is ready";
      $("done-text").textContent = "Sign in on your other devices with the same email and password.";
      show("step-done");
      return;
    }
    if (params.get("email")) $("email").value = params.get("email");
    if (fromFirefox) {
      $("context").textContent = "Sign in to sync Firefox: bookmarks, passwords, history, open tabs.";
      firefoxStatus = await channel.request("fxaccounts:fxa_status", { service: "sync", context: "oauth_webchannel_v1" }, 3000).catch(() => null);
      show("step-email");
    } else {
      // Any other visitor can type at once; if this is a Firefox that can
      // start a Sync sign-in itself (`oauth_flow_begin`, newer than ESR
      // 140), the page takes its parameters before the sign-in ends.
      show("step-email");
      await beginFirefoxFlow();
    }
    document.body.dataset.ready = "true";
  }

  async function beginFirefoxFlow() {
    firefoxStatus = await channel.request("fxaccounts:fxa_status", { service: "sync", context: "oauth_webchannel_v1" }, 1500).catch(() => null);
    if (!firefoxStatus) return;
    const begun = await channel
      .request("fxaccounts:oauth_flow_begin", { scopes: ["profile", OLDSYNC] }, 3000)
      .catch(() => null);
    if (!begun || !begun.keys_jwk || !begun.state || !begun.code_challenge) return;
    for (const [name, value] of Object.entries(begun)) {
      if (typeof value === "string") params.set(name, value);
    }
    params.set("context", "oauth_webchannel_v1");
    fromFirefox = true;
    $("context").textContent = "Sign in to sync Firefox: bookmarks, passwords, history, open tabs.";
  }
  start();
})();
