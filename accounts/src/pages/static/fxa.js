// The browser side of Firefox Accounts: password stretching, the key
// bundle, the Sync key, the keys_jwe for Firefox, the accounts API and
// Firefox's WebChannel. Only this page ever holds the password or kB; the
// server sees authPW and wrapped keys.
//
// Followed: onepw as Mozilla's fxa-auth-client does it (crypto.ts, salt.ts,
// bearer.ts), Firefox's FxAccountsKeys.sys.mjs (the legacy oldsync key and
// its kid), services/crypto jwcrypto.sys.mjs (the JWE it decrypts), and
// FxAccountsWebChannel.sys.mjs (the `account_updates` channel).
"use strict";

const NS = "identity.mozilla.com/picl/v1/";
const OLDSYNC = "https://identity.mozilla.com/apps/oldsync";
const utf8 = new TextEncoder();

const bytes = {
  hex(b) {
    return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  },
  unhex(s) {
    if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error("not hex");
    return new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
  },
  b64url(b) {
    let s = "";
    for (const x of new Uint8Array(b)) s += String.fromCharCode(x);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  unb64url(s) {
    const text = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  },
  xor(a, b) {
    return Uint8Array.from(a, (x, i) => x ^ b[i]);
  },
  random(n) {
    return crypto.getRandomValues(new Uint8Array(n));
  },
};

const kdf = {
  async pbkdf2(password, salt, iterations) {
    const key = await crypto.subtle.importKey("raw", utf8.encode(password), "PBKDF2", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "PBKDF2", salt: utf8.encode(salt), iterations, hash: "SHA-256" },
      key,
      256,
    );
    return new Uint8Array(bits);
  },
  // HKDF-SHA256 with an empty salt (the same as HashLen zeros).
  async hkdf(ikm, info, length) {
    const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8.encode(info) },
      key,
      length * 8,
    );
    return new Uint8Array(bits);
  },
  async sha256(data) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  },
  async hmac(key, data) {
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
  },
};

// A password stretched for one stretching version: V1 salted with the
// address (1,000 rounds), V2 with the account's clientSalt (650,000).
async function stretch(email, password, clientSalt) {
  const stretched = clientSalt
    ? await kdf.pbkdf2(password, clientSalt, 650000)
    : await kdf.pbkdf2(password, NS + "quickStretch:" + email, 1000);
  return {
    authPW: bytes.hex(await kdf.hkdf(stretched, NS + "authPW", 32)),
    unwrapBKey: await kdf.hkdf(stretched, NS + "unwrapBkey", 32),
  };
}

function newClientSalt() {
  return NS + "quickStretchV2:" + bytes.hex(bytes.random(16));
}

// Both stretchings of a new password wrapping `kB` (sign-up, reset,
// change): what /account/create, /account/reset and change/finish take.
async function newCredentials(email, password, kB) {
  const clientSalt = newClientSalt();
  const v1 = await stretch(email, password, null);
  const v2 = await stretch(email, password, clientSalt);
  return {
    body: {
      authPW: v1.authPW,
      wrapKb: bytes.hex(bytes.xor(kB, v1.unwrapBKey)),
      authPWVersion2: v2.authPW,
      wrapKbVersion2: bytes.hex(bytes.xor(kB, v2.unwrapBKey)),
      clientSalt,
    },
    v1,
    v2,
  };
}

// The id of a token (what `Bearer <prefix>_<id>` carries) and its third
// 32 bytes (a key fetch token's keyRequestKey).
async function tokenParts(tokenHex, kind) {
  const d = await kdf.hkdf(bytes.unhex(tokenHex), NS + kind, 96);
  return { id: bytes.hex(d.slice(0, 32)), extra: d.slice(64) };
}

const BEARER_PREFIX = {
  sessionToken: "fxs",
  keyFetchToken: "fxk",
  passwordChangeToken: "fxpc",
  passwordForgotToken: "fxpf",
  accountResetToken: "fxar",
};

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.errno = body.errno;
    this.body = body;
  }
}

// One accounts API call; `token` is `[kind, hex]` for the routes that
// take one.
async function api(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) {
    const [kind, hex] = token;
    const { id } = await tokenParts(hex, kind);
    headers.Authorization = `Bearer ${BEARER_PREFIX[kind]}_${id}`;
  }
  const response = await fetch("/v1" + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch (_) {
    // An empty or non-JSON body: the status says enough.
  }
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

// kB from /account/keys: the bundle is kA ‖ wrapKB under the key fetch
// token's keyRequestKey, MACed.
async function fetchKB(keyFetchToken, unwrapBKey) {
  const { bundle } = await api("GET", "/account/keys", undefined, ["keyFetchToken", keyFetchToken]);
  const { extra: keyRequestKey } = await tokenParts(keyFetchToken, "keyFetchToken");
  const keys = await kdf.hkdf(keyRequestKey, NS + "account/keys", 96);
  const raw = bytes.unhex(bundle);
  const ciphertext = raw.slice(0, 64);
  const mac = await kdf.hmac(keys.slice(0, 32), ciphertext);
  if (bytes.hex(mac) !== bytes.hex(raw.slice(64))) throw new Error("the key bundle does not verify");
  const wrapKB = bytes.xor(ciphertext.slice(32), keys.slice(64));
  return bytes.xor(wrapKB, unwrapBKey);
}

// The Sync key as Firefox derives it from kB (FxAccountsKeys'
// `_deriveLegacyScopedKey`): HKDF(kB, "…/oldsync", 64), kid
// `<keyRotationTimestamp>-<b64url(SHA-256(kB)[0..16])>`.
async function oldsyncKey(kB, keyRotationTimestamp) {
  const k = await kdf.hkdf(kB, NS + "oldsync", 64);
  const fingerprint = (await kdf.sha256(kB)).slice(0, 16);
  return {
    kid: `${keyRotationTimestamp}-${bytes.b64url(fingerprint)}`,
    k: bytes.b64url(k),
    kty: "oct",
    scope: OLDSYNC,
  };
}

// The scoped keys encrypted to the browser's ephemeral key: a compact JWE,
// ECDH-ES + A256GCM, exactly as jwcrypto.sys.mjs decrypts it.
async function keysJwe(peerJwk, plaintext) {
  const ecdh = { name: "ECDH", namedCurve: "P-256" };
  const ephemeral = await crypto.subtle.generateKey(ecdh, true, ["deriveBits"]);
  const epk = await crypto.subtle.exportKey("jwk", ephemeral.publicKey);
  const header = { alg: "ECDH-ES", enc: "A256GCM", epk: { kty: epk.kty, crv: epk.crv, x: epk.x, y: epk.y } };
  if (peerJwk.kid) header.kid = peerJwk.kid;
  const peer = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: peerJwk.x, y: peerJwk.y },
    ecdh,
    false,
    [],
  );
  const z = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, ephemeral.privateKey, 256));
  // Concat KDF (RFC 7518 §4.6) for one SHA-256 block: counter 1, Z,
  // AlgorithmID "A256GCM", empty PartyUInfo and PartyVInfo, 256 bits.
  const otherInfo = [0, 0, 0, 7, ...utf8.encode("A256GCM"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
  const cek = await kdf.sha256(new Uint8Array([0, 0, 0, 1, ...z, ...otherInfo]));
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
  const protectedHeader = bytes.b64url(utf8.encode(JSON.stringify(header)));
  const iv = bytes.random(12);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: utf8.encode(protectedHeader), tagLength: 128 },
      key,
      utf8.encode(plaintext),
    ),
  );
  const ciphertext = sealed.slice(0, sealed.length - 16);
  const tag = sealed.slice(sealed.length - 16);
  return `${protectedHeader}..${bytes.b64url(iv)}.${bytes.b64url(ciphertext)}.${bytes.b64url(tag)}`;
}

// Firefox's `account_updates` WebChannel. A message goes out as a
// WebChannelMessageToChrome event whose detail is a JSON string; the answer
// comes back as WebChannelMessageToContent with the same messageId.
const channel = {
  id: "account_updates",
  pending: new Map(),
  listening: false,
  listen() {
    if (this.listening) return;
    this.listening = true;
    window.addEventListener("WebChannelMessageToContent", (event) => {
      const detail = typeof event.detail === "string" ? JSON.parse(event.detail) : event.detail;
      if (!detail || detail.id !== this.id || !detail.message) return;
      const { messageId, data } = detail.message;
      const waiting = this.pending.get(messageId);
      if (waiting) {
        this.pending.delete(messageId);
        waiting(data);
      }
    });
  },
  send(command, data) {
    this.listen();
    const messageId = bytes.hex(bytes.random(8));
    const detail = JSON.stringify({ id: this.id, message: { command, data, messageId } });
    window.dispatchEvent(new window.CustomEvent("WebChannelMessageToChrome", { detail }));
    return messageId;
  },
  // Sends and waits for Firefox's answer (null after `ms`: not Firefox,
  // or Firefox not listening on this origin).
  request(command, data, ms = 10000) {
    return new Promise((resolve, reject) => {
      const messageId = this.send(command, data);
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        resolve(null);
      }, ms);
      this.pending.set(messageId, (answer) => {
        clearTimeout(timer);
        if (answer && answer.error) reject(new Error(`Firefox: ${typeof answer.error === "string" ? answer.error : answer.error.message || JSON.stringify(answer.error)}`));
        else resolve(answer);
      });
    });
  },
};

window.fxa = { NS, OLDSYNC, bytes, kdf, stretch, newCredentials, tokenParts, api, ApiError, fetchKB, oldsyncKey, keysJwe, channel };
