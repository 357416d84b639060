// The account page Firefox opens from "Manage account": the session comes
// from Firefox over the WebChannel (fxa_status), or from the sign-in page
// of this tab. Changing the password keeps kB (the wrapped key is
// re-wrapped here) and tells Firefox the new session (change_password);
// deleting the account or signing out tells Firefox too (delete, logout).
"use strict";

(() => {
  const { api, channel, fetchKB, newCredentials, stretch, tokenParts } = window.fxa;
  const $ = (id) => document.getElementById(id);
  let account = null;

  const say = (text) => ($("status").textContent = text);
  const fail = (text) => ($("error").textContent = text);
  const session = () => ["sessionToken", account.sessionToken];

  function form(id, work) {
    $(id).addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.target.querySelector("button");
      fail("");
      button.disabled = true;
      try {
        await work();
      } catch (e) {
        say("");
        fail(e.errno === 103 ? "The password is not right." : e.message || String(e));
      } finally {
        button.disabled = false;
      }
    });
  }

  async function stretchedFor(password) {
    const status = await api("POST", "/account/credentials/status", { email: account.email });
    return stretch(account.email, password, status.currentVersion === "v2" ? status.clientSalt : null);
  }

  async function loadDevices() {
    const clients = await api("GET", "/account/attached_clients", undefined, session());
    const list = $("devices");
    list.replaceChildren();
    for (const client of clients) {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = `${client.name || "Unnamed"}${client.isCurrentSession ? " (this browser)" : ""}`;
      item.append(name);
      if (!client.isCurrentSession) {
        const button = document.createElement("button");
        button.className = "secondary";
        button.textContent = "Sign out";
        button.setAttribute("aria-label", `Sign out ${client.name || "this device"}`);
        button.addEventListener("click", async () => {
          await api(
            "POST",
            "/account/attached_client/destroy",
            {
              clientId: client.clientId,
              deviceId: client.deviceId,
              sessionTokenId: client.sessionTokenId,
              refreshTokenId: client.refreshTokenId,
            },
            session(),
          );
          await loadDevices();
        });
        item.append(button);
      }
      list.append(item);
    }
  }

  form("change-password", async () => {
    say("Changing your password…");
    const old = await stretchedFor($("old-password").value);
    const started = await api("POST", "/password/change/start", { email: account.email, oldAuthPW: old.authPW }, session());
    const kB = await fetchKB(started.keyFetchToken2 || started.keyFetchToken, old.unwrapBKey);
    const credentials = await newCredentials(account.email, $("new-password").value, kB);
    kB.fill(0);
    const { id } = await tokenParts(account.sessionToken, "sessionToken");
    const finished = await api(
      "POST",
      "/password/change/finish",
      { ...credentials.body, sessionToken: id },
      ["passwordChangeToken", started.passwordChangeToken],
    );
    account.sessionToken = finished.sessionToken;
    await channel.request("fxaccounts:change_password", {
      email: account.email,
      uid: account.uid,
      sessionToken: finished.sessionToken,
      verified: true,
    }, 3000);
    sessionStorage.setItem("fxa-session", JSON.stringify(account));
    $("old-password").value = "";
    $("new-password").value = "";
    say("Your password is changed. Your other devices need to sign in again.");
    await loadDevices();
  });

  form("totp-start", async () => {
    const created = await api("POST", "/totp/create", {}, session());
    $("totp-secret").textContent = created.secret;
    $("totp-uri").href = created.qrCodeUrl;
    $("totp-confirm").hidden = false;
    $("totp-code").focus();
  });
  form("totp-confirm", async () => {
    const { success } = await api("POST", "/session/verify/totp", { code: $("totp-code").value.trim() }, session());
    if (!success) throw new Error("The code is not right.");
    $("totp-confirm").hidden = true;
    $("totp-state").textContent = "On: signing in asks for your authenticator app's code.";
  });

  form("sign-out", async () => {
    await api("POST", "/session/destroy", {}, session()).catch(() => {});
    await channel.request("fxaccounts:logout", { uid: account.uid }, 3000);
    sessionStorage.removeItem("fxa-session");
    location.assign("/");
  });

  form("delete-account", async () => {
    const stretched = await stretchedFor($("delete-password").value);
    await api("POST", "/account/destroy", { email: account.email, authPW: stretched.authPW }, session());
    await channel.request("fxaccounts:delete", { uid: account.uid }, 3000);
    sessionStorage.removeItem("fxa-session");
    $("account").hidden = true;
    say("Your account is deleted.");
  });

  async function start() {
    const status = await channel.request("fxaccounts:fxa_status", { service: "sync", context: "oauth_webchannel_v1" }, 2000).catch(() => null);
    account = status?.signedInUser?.sessionToken ? status.signedInUser : JSON.parse(sessionStorage.getItem("fxa-session") || "null");
    if (!account) {
      $("signed-out").hidden = false;
      return;
    }
    try {
      await api("GET", "/session/status", undefined, session());
    } catch (_) {
      $("signed-out").hidden = false;
      return;
    }
    $("who").textContent = account.email;
    $("account").hidden = false;
    const { verified } = await api("GET", "/totp/exists", undefined, session()).catch(() => ({}));
    $("totp-state").textContent = verified ? "On: signing in asks for your authenticator app's code." : "Off.";
    await loadDevices();
    document.body.dataset.ready = "true";
  }
  start().catch((e) => fail(e.message || String(e)));
})();
