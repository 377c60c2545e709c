// dualkey's approver page. Everything shown comes from the daemon as data and
// is put in the page with textContent only: a held input is never markup.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";
let me = "";
let events = null;

function b64uToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
function bytesToB64u(buffer) {
  let bin = "";
  for (const b of new Uint8Array(buffer)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method === "POST" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch("/api/" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let reply = {};
  try { reply = await response.json(); } catch (e) { reply = { error: "bad reply (" + response.status + ")" }; }
  if (!response.ok || reply.ok === false) {
    const error = new Error(reply.error || ("HTTP " + response.status));
    error.status = response.status;
    throw error;
  }
  return reply;
}

// A passkey's answer to a challenge the daemon issued.
async function passkeyAnswer(challenge) {
  const credential = await navigator.credentials.get({
    publicKey: {
      challenge: b64uToBytes(challenge.challenge),
      rpId: challenge.rp_id,
      allowCredentials: (challenge.credentials || []).map((id) => ({ type: "public-key", id: b64uToBytes(id) })),
      userVerification: "required",
      timeout: challenge.timeout_ms,
    },
  });
  return {
    nonce: challenge.nonce,
    credential_id: bytesToB64u(credential.rawId),
    client_data_json: bytesToB64u(credential.response.clientDataJSON),
    authenticator_data: bytesToB64u(credential.response.authenticatorData),
    signature: bytesToB64u(credential.response.signature),
  };
}

function show(section) {
  for (const id of ["signin", "enrol", "pending"]) $(id).hidden = id !== section;
}
function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

// ---- sign-in ---------------------------------------------------------------

function signedIn(reply) {
  csrf = reply.csrf;
  me = reply.approver;
  $("who").textContent = "signed in as " + me;
  $("signout").hidden = false;
  notice("");
  show("pending");
  listen();
  refresh();
}

async function signInWith(factor) {
  $("signin-error").textContent = "";
  const approver = $("signin-name").value.trim();
  try {
    const body = { approver };
    if (factor === "passkey") {
      const challenge = await api("POST", "signin/challenge", { approver });
      body.passkey = await passkeyAnswer(challenge);
    } else {
      body.totp = $("signin-code").value.trim();
    }
    signedIn(await api("POST", "signin", body));
  } catch (e) {
    $("signin-error").textContent = e.message;
  }
}

function signedOut(why) {
  csrf = "";
  me = "";
  if (events) events.close();
  events = null;
  $("who").textContent = "";
  $("signout").hidden = true;
  show("signin");
  if (why) $("signin-error").textContent = why;
}

// ---- pending ---------------------------------------------------------------

function listen() {
  if (events) events.close();
  events = new EventSource("/api/events");
  events.addEventListener("changed", () => refresh());
  events.addEventListener("expired", () => signedOut("Your session expired: sign in again."));
  events.onopen = () => { $("live").textContent = "live"; };
  events.onerror = () => { $("live").textContent = "reconnecting…"; };
}

let refreshing = null;
async function refresh() {
  if (refreshing) { refreshing.again = true; return; }
  refreshing = { again: false };
  try {
    do {
      refreshing.again = false;
      const reply = await api("GET", "pending");
      render(reply.requests || []);
      const breaker = await api("GET", "breaker");
      renderFrozen((breaker.agents || []).filter((a) => a.frozen));
    } while (refreshing.again);
  } catch (e) {
    if (e.status === 401) signedOut("Your session expired: sign in again.");
    else notice(e.message);
  } finally {
    refreshing = null;
  }
}

function fill(list, items) {
  list.replaceChildren();
  for (const item of items || []) {
    const li = document.createElement("li");
    li.textContent = item;
    list.append(li);
  }
}

function render(requests) {
  $("count").textContent = "(" + requests.length + ")";
  const holds = $("holds");
  const keep = new Map();
  for (const li of holds.children) keep.set(li.dataset.id, li);
  const next = [];
  for (const r of requests) {
    let li = keep.get(r.id);
    if (!li) li = build(r);
    update(li, r);
    next.push(li);
  }
  holds.replaceChildren(...next);
}

function build(r) {
  const li = $("hold-template").content.firstElementChild.cloneNode(true);
  li.dataset.id = r.id;
  li.dataset.code = r.code;
  const form = li.querySelector(".decide");
  const result = li.querySelector(".result");
  const say = (text, good) => {
    result.textContent = text;
    result.className = "result " + (good ? "good" : "bad");
  };
  const busy = (on) => { for (const b of li.querySelectorAll("button")) b.disabled = on; };
  const reason = () => li.querySelector(".why").value;
  const decide = async (how) => {
    busy(true);
    say("", true);
    try {
      if (how === "deny") {
        await api("POST", "deny", { id: r.id, reason: reason() });
        say("denied", true);
        notice("denied " + r.code + " (" + r.id + ")");
      } else {
        const body = { id: r.id, reason: reason() };
        if (how === "passkey") {
          const challenge = await api("POST", "challenge", { purpose: "approve", target: r.id });
          body.passkey = await passkeyAnswer(challenge);
        } else {
          body.totp = li.querySelector(".code-input").value.trim();
        }
        const reply = await api("POST", "approve", body);
        const done = reply.request && reply.request.state === "approved"
          ? "approved " + r.code + " (" + r.id + "): it runs once when the agent retries"
          : "your approval of " + r.code + " is recorded; another approver is needed";
        say(done, true);
        notice(done);
      }
    } catch (e) {
      if (e.status === 401) return signedOut("Your session expired: sign in again.");
      say(e.message, false);
    } finally {
      busy(false);
    }
  };
  li.querySelector(".approve-passkey").addEventListener("click", () => decide("passkey"));
  li.querySelector(".deny").addEventListener("click", () => decide("deny"));
  form.addEventListener("submit", (event) => { event.preventDefault(); decide("totp"); });
  return li;
}

function update(li, r) {
  const w = r.words || {};
  const q = (sel) => li.querySelector(sel);
  q(".code").textContent = r.code;
  q(".decision").textContent = r.approvals_needed >= 2 ? "hold2" : "hold";
  q(".expires").textContent = w.expires || "";
  q(".who").textContent = (w.who || ("agent " + r.agent)) + ", " + (w.where || r.cwd || "");
  q(".reason").textContent = r.reason || "";
  q(".input").textContent = r.input || "";
  fill(q(".commands"), w.commands);
  fill(q(".actions"), w.actions);
  q(".blast").textContent = w.blast_radius || "";
  q(".vault").textContent = w.vault || "";
  q(".approvals").textContent = w.approvals || "";
  const mine = (r.approvers || []).includes(me);
  q(".approve-passkey").hidden = mine;
  q(".approve-totp").hidden = mine;
  q(".totp").hidden = mine;
}

// ---- the breaker ------------------------------------------------------------

function renderFrozen(agents) {
  $("breaker").hidden = agents.length === 0;
  const list = $("frozen");
  list.replaceChildren();
  for (const a of agents) {
    const li = $("frozen-template").content.firstElementChild.cloneNode(true);
    li.dataset.agent = a.agent;
    li.querySelector(".agent").textContent = a.agent;
    li.querySelector(".since").textContent = a.since_ms ? "since " + new Date(a.since_ms).toLocaleTimeString() : "";
    li.querySelector(".why").textContent = a.why || "";
    const result = li.querySelector(".result");
    const reset = async (how) => {
      for (const b of li.querySelectorAll("button")) b.disabled = true;
      try {
        const body = { agent: a.agent };
        if (how === "passkey") {
          const challenge = await api("POST", "challenge", { purpose: "breaker_reset", target: a.agent });
          body.passkey = await passkeyAnswer(challenge);
        } else {
          body.totp = li.querySelector(".code-input").value.trim();
        }
        await api("POST", "breaker_reset", body);
        notice("the breaker of agent " + a.agent + " is reset");
        refresh();
      } catch (e) {
        if (e.status === 401) return signedOut("Your session expired: sign in again.");
        result.textContent = e.message;
        result.className = "result bad";
      } finally {
        for (const b of li.querySelectorAll("button")) b.disabled = false;
      }
    };
    li.querySelector(".reset-passkey").addEventListener("click", () => reset("passkey"));
    li.querySelector(".decide").addEventListener("submit", (event) => { event.preventDefault(); reset("totp"); });
    list.append(li);
  }
}

// ---- enrolment (a one-time link from `dualkey approver passkey NAME`) --------

async function enrol(token) {
  show("enrol");
  let options;
  try {
    options = await api("POST", "enrol/options", { token });
  } catch (e) {
    $("enrol-status").textContent = e.message;
    $("enrol-go").disabled = true;
    return;
  }
  $("enrol-for").textContent = "A passkey for approver " + options.name + ".";
  $("enrol-go").addEventListener("click", async () => {
    $("enrol-status").textContent = "";
    try {
      const credential = await navigator.credentials.create({
        publicKey: {
          challenge: b64uToBytes(options.challenge),
          rp: { id: options.rp_id, name: "dualkey" },
          user: { id: b64uToBytes(options.user_id), name: options.name, displayName: options.name },
          pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -8 }],
          authenticatorSelection: { userVerification: "required", residentKey: "preferred" },
          excludeCredentials: (options.exclude || []).map((id) => ({ type: "public-key", id: b64uToBytes(id) })),
          attestation: "none",
          timeout: options.timeout_ms,
        },
      });
      const reply = await api("POST", "enrol/finish", {
        token,
        label: $("enrol-label").value,
        client_data_json: bytesToB64u(credential.response.clientDataJSON),
        attestation_object: bytesToB64u(credential.response.attestationObject),
      });
      history.replaceState(null, "", "/");
      $("signin-name").value = reply.name;
      notice("passkey enrolled for " + reply.name + "; sign in with it now.");
      show("signin");
    } catch (e) {
      $("enrol-status").textContent = e.message;
    }
  });
}

// ---- start -----------------------------------------------------------------

async function start() {
  $("signin-passkey").addEventListener("click", () => signInWith("passkey"));
  $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); signInWith("totp"); });
  $("signout").addEventListener("click", async () => {
    try { await api("POST", "signout", {}); } catch (e) { /* gone already */ }
    signedOut("");
  });
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("enrol")) return enrol(hash.get("enrol"));
  try {
    const session = await api("GET", "session");
    if (session.signed_in) signedIn(session);
    else signedOut("");
  } catch (e) {
    signedOut(e.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
