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
  for (const id of ["signin", "enrol", "pending", "history"]) $(id).hidden = id !== section;
  const tabbed = section === "pending" || section === "history";
  $("tabs").hidden = !tabbed;
  $("tab-pending").setAttribute("aria-pressed", String(section === "pending"));
  $("tab-history").setAttribute("aria-pressed", String(section === "history"));
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
  events.addEventListener("changed", () => { refresh(); historyChanged(); });
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
      // What this approver decided leaves the view now, not when the event
      // stream next says so (a slow or reconnecting stream must not leave a
      // decided hold looking undecided).
      refresh();
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

// ---- history: the audit log, searched as `dualkey audit search` does ---------

let historyCursor = "";   // the next (older) page, "" when none
let historySeq = 0;       // a newer search supersedes an older one's answer
let verifyPolls = 0;

function historyParams(cursor) {
  const params = new URLSearchParams();
  const add = (name, id) => { const v = $(id).value.trim(); if (v) params.set(name, v); };
  add("agent", "h-agent");
  add("class", "h-class");
  add("decision", "h-decision");
  add("q", "h-text");
  params.set("limit", "50");
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

async function searchHistory(older) {
  const seq = ++historySeq;
  $("history-error").textContent = "";
  try {
    const reply = await api("GET", "history?" + historyParams(older ? historyCursor : ""));
    if (seq !== historySeq) return;
    renderVerify(reply.verify || {});
    const list = $("records");
    if (!older) list.replaceChildren();
    for (const r of reply.records || []) list.append(buildRecord(r));
    historyCursor = reply.next_cursor || "";
    $("history-older").hidden = !historyCursor;
    $("history-scan").textContent = reply.scan_words || "";
    const shown = list.children.length;
    $("history-count").textContent = shown === 0 ? "no records match" : shown + (shown === 1 ? " record" : " records") +
      (historyCursor ? ", newest first; older ones below" : ", newest first");
    // A check under way: ask again shortly for its answer.
    if (reply.verify && reply.verify.checking && verifyPolls < 20) {
      verifyPolls++;
      setTimeout(() => { if (!$("history").hidden) refreshVerify(); }, 1500);
    }
  } catch (e) {
    if (e.status === 401) return signedOut("Your session expired: sign in again.");
    if (seq === historySeq) $("history-error").textContent = e.message;
  }
}

// Only the status (a search for one record).
async function refreshVerify() {
  try {
    const reply = await api("GET", "history?limit=1");
    renderVerify(reply.verify || {});
    if (reply.verify && reply.verify.checking && verifyPolls < 20) {
      verifyPolls++;
      setTimeout(() => { if (!$("history").hidden) refreshVerify(); }, 1500);
    }
  } catch (e) { /* the next search says */ }
}

function renderVerify(v) {
  const p = $("verify");
  p.textContent = v.words || "audit log not checked";
  p.className = "verify " + (v.state || "not_checked");
  p.dataset.state = v.state || "not_checked";
}

let historyTimer = null;
function historyChanged() {
  // Live while the first page is shown; a page further back stays as it is.
  if ($("history").hidden || $("records").dataset.older === "1") return;
  clearTimeout(historyTimer);
  historyTimer = setTimeout(() => searchHistory(false), 300);
}

async function copyText(text, button) {
  let done = false;
  try {
    await navigator.clipboard.writeText(text);
    done = true;
  } catch (e) {
    // No clipboard API (a page not served over https or localhost): select it.
    const pre = button.parentElement.querySelector(".restore");
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { done = document.execCommand("copy"); } catch (e2) { done = false; }
  }
  button.textContent = done ? "Copied" : "Selected: copy it";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
}

function buildRecord(r) {
  const li = $("record-template").content.firstElementChild.cloneNode(true);
  const q = (sel) => li.querySelector(sel);
  li.dataset.seq = String(r.seq);
  li.dataset.decision = r.decision || "";
  li.dataset.kind = r.kind || "";
  q(".seq").textContent = "#" + r.seq;
  q(".decision").textContent = r.decision || "-";
  q(".decision").classList.add(r.decision || "none");
  q(".kind").textContent = r.kind || "";
  q(".time").textContent = r.time || "";
  const who = [];
  if (r.agent) who.push("agent " + r.agent);
  if (r.class) who.push("class " + r.class);
  if (r.cwd) who.push("in " + r.cwd);
  q(".who").textContent = who.join(", ");
  q(".who").hidden = who.length === 0;
  q(".input").textContent = r.input || "";
  q(".input").hidden = !r.input;
  q(".summary").textContent = r.summary || "";
  if (r.snapshot_id) {
    q(".snapshot").hidden = false;
    q(".snapshot-id").textContent = r.snapshot_id;
    q(".restore").textContent = r.restore || "(no command: the record's snapshot id is not well-formed)";
    q(".copy").hidden = !r.restore;
    q(".copy").addEventListener("click", () => copyText(r.restore, q(".copy")));
  }
  return li;
}

function showHistory() {
  show("history");
  verifyPolls = 0;
  searchHistory(false);
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
  $("tab-pending").addEventListener("click", () => { show("pending"); refresh(); });
  $("tab-history").addEventListener("click", showHistory);
  $("history-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("records").dataset.older = "";
    searchHistory(false);
  });
  $("history-older").addEventListener("click", () => {
    $("records").dataset.older = "1";
    searchHistory(true);
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
