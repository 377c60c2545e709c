// The approver's page in a real browser: Debian's chromium driven through
// the DevTools protocol by playwright-core, with a virtual WebAuthn
// authenticator, against a real `dualkey serve` the gtest started. Agent
// actions go through the real hook binary. Prints one line per check,
// "ok NAME" or "not ok NAME: why"; exits 1 if any failed.
"use strict";
const { chromium } = require("playwright-core");
const { spawnSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const env = process.env;
const URL = env.DK_URL;
const SHOTS = env.DK_SHOTS;
let failed = 0;
const figures = [];
function check(name, ok, why) {
  console.log((ok ? "ok " : "not ok ") + name + (ok ? (why ? " (" + why + ")" : "") : ": " + (why || "")));
  if (!ok) failed++;
}

function totp(secret, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + offset));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// The agent: Claude Code's hook, the real binary, as the tests' user.
function hook(command, agent = "claude") {
  const input = JSON.stringify({ session_id: "s", hook_event_name: "PreToolUse", tool_name: "Bash",
                                 cwd: env.DK_WORK, tool_input: { command } });
  const run = spawnSync(env.DK_BINARY, ["hook", agent], {
    input, encoding: "utf8",
    env: { PATH: env.PATH, HOME: env.DK_HOME, DUALKEY_SOCKET: env.DK_SOCKET, DUALKEY_STATE_DIR: env.DK_STATE },
  });
  const result = { status: run.status, out: (run.stdout || "") + (run.stderr || "") };
  // What Claude Code does next: the command runs only when the hook allows it.
  if (run.status === 0) spawnSync("/bin/sh", ["-c", command], { cwd: env.DK_WORK });
  return result;
}

// Many holds at once, straight through the daemon's socket (one connection,
// one JSON line per request) as the hook would send them.
function holdMany(count) {
  const net = require("net");
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(env.DK_SOCKET);
    let buffer = "";
    let answered = 0;
    let sent = 0;
    const next = () => {
      if (sent === count) return;
      socket.write(JSON.stringify({ op: "check", channel: "shell", agent: "claude", cwd: env.DK_WORK,
                                    home: env.DK_HOME, input: "rm -rf " + env.DK_HOME + "/bulk-" + sent }) + "\n");
      sent++;
    };
    socket.on("connect", next);
    socket.on("data", (data) => {
      buffer += data;
      let at;
      while ((at = buffer.indexOf("\n")) >= 0) {
        buffer = buffer.slice(at + 1);
        if (++answered === count) { socket.end(); resolve(answered); } else next();
      }
    });
    socket.on("error", reject);
  });
}

async function withAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
               isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

// A hold's card on the page, by the approval id the agent was told.
const card = (page, id) => page.locator('#holds > li[data-id="' + id + '"]');
const codeOf = (out) => { const m = out.match(/\b(ap_[A-Za-z0-9]+)/); return m ? m[1] : "(no id in: " + out + ")"; };

// A frozen agent shown live and reset with a fresh passkey assertion.
async function breaker(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await withAuthenticator(context, page);
  await page.goto(env.DK_ENROL_LINK);
  await page.click("#enrol-go");
  await page.waitForSelector("#notice:text('passkey enrolled for alice')", { timeout: 10000 });
  await page.fill("#signin-name", "alice");
  await page.click("#signin-passkey");
  await page.waitForSelector("#pending:not([hidden])", { timeout: 10000 });
  await page.waitForSelector("#live:text('live')", { timeout: 5000 });
  check("no frozen agent at first", await page.isHidden("#breaker"));
  hook("rm -rf /srv/one", "codex");
  hook("rm -rf /srv/two", "codex");
  const tripped = hook("rm -rf /srv/three", "codex");
  const frozen = page.locator('#frozen > li[data-agent="codex"]');
  await frozen.waitFor({ timeout: 5000 }).catch(() => {});
  check("the frozen agent shows without reload", (await frozen.count()) === 1, tripped.out);
  check("a frozen agent's harmless write is refused", hook("echo note > " + env.DK_WORK + "/x", "codex").status === 2);
  await frozen.locator(".reset-passkey").click();
  await page.waitForSelector("#notice:text('is reset')", { timeout: 10000 }).catch(() => {});
  check("reset with a passkey", (await page.textContent("#notice")).includes("codex is reset"), await page.textContent("#notice"));
  const after = hook("touch " + env.DK_WORK + "/x", "codex");
  check("the agent works again after the reset", after.status === 0, after.status + " " + after.out);
  await page.screenshot({ path: path.join(SHOTS, "breaker-desktop.png"), fullPage: true });
}

// The History view: the audit log searched as `dualkey audit search` does.
// `code`: the approval alice gave on the page, whose run saved DK_TARGET to
// the vault first.
const records = (page) => page.locator("#records > li");
async function searchFor(page, filters) {
  await page.fill("#h-agent", filters.agent || "");
  await page.fill("#h-class", filters.class || "");
  await page.selectOption("#h-decision", filters.decision || "");
  await page.fill("#h-text", filters.text || "");
  const answered = page.waitForResponse((r) => r.url().includes("/api/history?") && r.url().includes("limit=50"));
  await page.click("#h-search");
  await answered;
  await page.waitForTimeout(100);
  return page.$$eval("#records > li", (lis) => lis.map((li) => ({
    seq: li.dataset.seq, decision: li.dataset.decision, kind: li.dataset.kind,
    who: li.querySelector(".who").textContent, input: li.querySelector(".input").textContent,
    summary: li.querySelector(".summary").textContent,
    snapshot: li.querySelector(".snapshot").hidden ? "" : li.querySelector(".snapshot-id").textContent,
    restore: li.querySelector(".snapshot").hidden ? "" : li.querySelector(".restore").textContent,
  })));
}

async function historyView(page, code) {
  await page.click("#tab-history");
  await page.waitForSelector("#history:not([hidden])", { timeout: 5000 });
  check("History is a tab beside Pending", await page.isHidden("#pending"));
  await page.waitForSelector("#records > li", { timeout: 5000 });
  await page.waitForSelector('#verify[data-state="intact"]', { timeout: 10000 }).catch(() => {});
  const verify = await page.textContent("#verify");
  check("History shows the verify status", /^audit log intact: [\d,]+ entries up to seq \d+ \(checked /.test(verify), verify);

  const all = await searchFor(page, {});
  const approved = await searchFor(page, { decision: "approved" });
  check("filter by decision: only approved records", approved.length > 0 && approved.every((r) => r.decision === "approved"),
        JSON.stringify(approved.map((r) => r.decision)));
  check("... and it narrows the list", approved.length < all.length, approved.length + " of " + all.length);
  const given = approved.find((r) => r.kind === "approval" && r.summary.includes(code));
  check("alice's approval on the page is in History, approved", !!given && /alice approved .* with a passkey on the page/.test(given.summary),
        JSON.stringify(given || approved));
  const ran = approved.find((r) => r.kind === "consumed" && r.input === "rm -rf " + env.DK_TARGET);
  check("the approved run is in History with its vault snapshot", !!ran && /^[0-9a-f]{8,}$/.test(ran.snapshot), JSON.stringify(ran || approved));
  const restore = ran ? ran.restore : "";
  check("... and the exact restore command", !!ran && restore === "dualkey vault restore " + ran.snapshot + " --vault " + env.DK_STATE + "/vault",
        restore);
  check("the approval links to the same snapshot and command", !!given && !!ran && given.snapshot === ran.snapshot && given.restore === restore,
        JSON.stringify(given));

  // The CLI finds the same records and says the same words.
  const cli = spawnSync(env.DK_BINARY, ["audit", "search", "--decision", "approved", "--json", "--file", env.DK_STATE + "/audit.jsonl"],
                        { encoding: "utf8" });
  let cliRecords = [];
  try { cliRecords = JSON.parse(cli.stdout).records; } catch (e) { /* checked below */ }
  const same = cliRecords.length === approved.length && cliRecords.every((r, i) =>
    String(r.seq) === approved[i].seq && r.summary === approved[i].summary && (r.restore || "") === approved[i].restore);
  check("`dualkey audit search --decision approved` shows the same records and words", cli.status === 0 && same,
        cli.status + " " + (cli.stderr || "") + JSON.stringify(cliRecords.map((r) => r.seq)));
  const text = spawnSync(env.DK_BINARY, ["audit", "search", "--decision", "approved", "--file", env.DK_STATE + "/audit.jsonl"],
                         { encoding: "utf8" });
  check("... and its text shows the restore command", text.stdout.includes("restore: " + restore) &&
        text.stdout.startsWith("audit log intact: "), text.stdout);

  // The command restores what the approved rm -rf destroyed.
  const restored = spawnSync("/bin/sh", ["-c", restore.replace(/^dualkey /, env.DK_BINARY.replace(/'/g, "") + " ")],
                             { encoding: "utf8" });
  check("the restore command shown brings the files back", restored.status === 0 && fs.existsSync(env.DK_TARGET + "/f0"),
        restored.status + " " + restored.stdout + restored.stderr);

  // Copy button.
  await searchFor(page, { decision: "approved" });
  const copy = page.locator("#records > li .snapshot:not([hidden]) .copy").first();
  await copy.click();
  await page.waitForFunction(() => /Copied|Selected/.test(document.querySelector("#records .snapshot:not([hidden]) .copy").textContent),
                             null, { timeout: 3000 }).catch(() => {});
  check("the restore command has a copy button", /Copied|Selected/.test(await copy.textContent()), await copy.textContent());

  const byClass = await searchFor(page, { class: "fs.delete" });
  check("filter by class (a family): only fs.delete.*", byClass.length > 0 && byClass.length < all.length &&
        byClass.every((r) => /class fs\.delete(\.|,|$)/.test(r.who)), JSON.stringify(byClass.map((r) => r.who)));
  const held = await searchFor(page, { class: "fs.delete", decision: "hold" });
  check("class and decision together narrow further", held.length > 0 && held.length < byClass.length &&
        held.every((r) => r.decision === "hold"), held.length + " of " + byClass.length);
  const nobody = await searchFor(page, { agent: "nobody" });
  check("an agent with no records: none", nobody.length === 0 && (await page.textContent("#history-count")) === "no records match");

  // A held command with <script> in it is text in History too.
  const xss = await searchFor(page, { text: "__xss" });
  const ran2 = await page.evaluate(() => window.__xss);
  const markup = await page.locator("#records img, #records script").count();
  check("a record with <script> renders as text, inert", xss.length > 0 && xss.some((r) => r.input.includes("<script>")) &&
        ran2 === undefined && markup === 0, JSON.stringify({ n: xss.length, ran2, markup }));

  // The approved actions, with their snapshots and restore commands.
  await searchFor(page, { decision: "approved" });
  await page.screenshot({ path: path.join(SHOTS, "history-desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, "history-phone.png"), fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check("History is readable at phone width (no sideways scrolling)", width <= 390, width + " px");
  await page.setViewportSize({ width: 1280, height: 900 });

  // The route: a session is needed; bad parameters are a 400 that says why.
  const anon = await page.context().browser().newContext();
  let r = await anon.request.get(URL + "/api/history");
  check("history without a session: 401", r.status() === 401, String(r.status()));
  await anon.close();
  r = await page.request.get(URL + "/api/history?decision=maybe");
  check("history with a bad decision: 400 that names the decisions", r.status() === 400 && /one of: allow/.test(await r.text()),
        r.status() + " " + (await r.text()));
  await page.click("#tab-pending");
  await page.waitForSelector("#pending:not([hidden])", { timeout: 5000 });
}

async function main() {
  const browser = await chromium.launch({ executablePath: env.DK_CHROMIUM || "/usr/bin/chromium", headless: true,
                                          args: ["--no-sandbox"] });
  if (env.DK_SCENARIO === "breaker") {
    try {
      fs.mkdirSync(SHOTS, { recursive: true });
      await breaker(browser);
    } finally {
      await browser.close();
    }
    return;
  }
  try {
    // ---- alice enrols a passkey through the one-time link, signs in with it.
    const alice = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await alice.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    const { cdp, authenticatorId } = await withAuthenticator(alice, page);
    await page.goto(env.DK_ENROL_LINK);
    await page.click("#enrol-go");
    await page.waitForSelector("#notice:text('passkey enrolled for alice')", { timeout: 10000 });
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    check("enrol: the browser's authenticator holds alice's passkey", credentials.length === 1, JSON.stringify(credentials.length));

    await page.goto(URL + "/");
    await page.fill("#signin-name", "alice");
    await page.click("#signin-passkey");
    await page.waitForSelector("#pending:not([hidden])", { timeout: 10000 });
    check("signin with a passkey", (await page.textContent("#who")).includes("alice"));
    const cookies = await alice.cookies();
    const session = cookies.find((c) => c.name === "dualkey_session");
    check("session cookie is HttpOnly and SameSite=Strict", session && session.httpOnly && session.sameSite === "Strict",
          JSON.stringify(session));

    // ---- an agent's hook call is held; the page shows it live.
    await page.waitForSelector("#live:text('live')", { timeout: 5000 });
    const t0 = Date.now();
    const held = hook("rm -rf " + env.DK_TARGET);
    check("the agent's rm -rf is held (exit 2)", held.status === 2, held.status + " " + held.out);
    const code = codeOf(held.out);
    await card(page, code).waitFor({ timeout: 5000 });
    const shownMs = Date.now() - t0;
    check("the page shows the hold without reload within 1 s", shownMs < 1000, shownMs + " ms");
    const text = await card(page, code).innerText();
    check("the hold shows its input", text.includes("rm -rf " + env.DK_TARGET), text);
    check("the hold shows its actions with class and reversibility", /fs\.delete/.test(text) && /irreversible|reversible/.test(text), text);
    check("the hold shows the blast radius (files, size)", /\b12 files\b/.test(text) && /\bKB\b|\bB\b/.test(text), text);
    check("the hold shows the agent and where", text.includes("agent claude") && text.includes(env.DK_WORK), text);

    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, "pending-desktop.png"), fullPage: true });
    await card(page, code).screenshot({ path: path.join(SHOTS, "hold-desktop.png") });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SHOTS, "pending-phone.png"), fullPage: true });
    await card(page, code).screenshot({ path: path.join(SHOTS, "hold-phone.png") });
    const phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    check("readable at phone width (no sideways scrolling)", phoneWidth <= 390, phoneWidth + " px");
    await page.setViewportSize({ width: 1280, height: 900 });
    check("screenshots written", fs.existsSync(path.join(SHOTS, "hold-phone.png")), SHOTS);

    // ---- a session alone cannot approve; CSRF and foreign origins refused.
    const id = code;
    const { csrf } = await (await page.request.get(URL + "/api/session")).json();
    let r = await page.request.post(URL + "/api/approve", { data: { id }, headers: { "X-CSRF-Token": csrf } });
    check("session + CSRF without a second factor cannot approve", r.status() === 403, r.status() + " " + (await r.text()));
    r = await page.request.post(URL + "/api/approve", { data: { id, totp: "000000" } });
    check("no CSRF token: refused", r.status() === 403, r.status() + " " + (await r.text()));
    r = await page.request.post(URL + "/api/approve", { data: { id, totp: "000000" },
                                                        headers: { "X-CSRF-Token": csrf, Origin: "http://evil.example" } });
    check("a foreign Origin: refused", r.status() === 403, r.status() + " " + (await r.text()));
    r = await page.request.post(URL + "/v1/approve", { data: { op: "approve", id, approver: "alice", totp: "000000" },
                                                       headers: { Origin: "http://evil.example" } });
    check("a foreign Origin on /v1/: refused", r.status() === 403, String(r.status()));

    // ---- approve with the passkey (a fresh assertion bound to this action).
    let approveBody = null;
    page.on("request", (req) => { if (req.url().endsWith("/api/approve")) approveBody = req.postData(); });
    await card(page, code).locator(".why").fill("checked the directory: scratch data");
    await card(page, code).locator(".approve-passkey").click();
    await page.waitForSelector("#notice:text('approved')", { timeout: 10000 }).catch(() => {});
    const result = await page.textContent("#notice");
    check("approve with a passkey", result.includes("approved") && result.includes(code), result);
    await card(page, code).waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
    check("the approved hold leaves the pending view by itself", (await card(page, code).count()) === 0);
    const retry = hook("rm -rf " + env.DK_TARGET);
    check("the agent's identical retry passes once", retry.status === 0, retry.status + " " + retry.out);
    const again = hook("rm -rf " + env.DK_TARGET);
    check("... and only once", again.status === 2, again.status + " " + again.out);
    const other = hook("rm -rf " + env.DK_TARGET + "/sub");
    check("a different action is held", other.status === 2, other.status + " " + other.out);
    check("the approved command ran (the agent ran it once allowed)", !fs.existsSync(env.DK_TARGET));
    // The page's passkey answer, replayed against another held action.
    const replay = JSON.parse(approveBody || "{}");
    replay.id = codeOf(other.out);
    r = await page.request.post(URL + "/api/approve", { data: replay, headers: { "X-CSRF-Token": csrf } });
    check("a replayed assertion is refused", r.status() === 403, r.status() + " " + (await r.text()));
    check("... and it did not approve", hook("rm -rf " + env.DK_TARGET + "/sub").status === 2);

    // ---- XSS in the held input is shown as text.
    const xss = hook("echo '<script>window.__xss=1</script><img src=x onerror=window.__xss=2>' > /dev/null; rm -rf /srv/xss");
    const xcode = codeOf(xss.out);
    await card(page, xcode).waitFor({ timeout: 5000 });
    const shown = await card(page, xcode).locator(".input").textContent();
    const ran = await page.evaluate(() => window.__xss);
    const imgs = await page.locator("#holds img, #holds script").count();
    check("a <script> in the held input is shown as text, inert", shown.includes("<script>") && ran === undefined && imgs === 0,
          JSON.stringify({ shown, ran, imgs }));

    // ---- deny with a reason.
    await card(page, xcode).locator(".why").fill("no: not in this sprint");
    await card(page, xcode).locator(".deny").click();
    await card(page, xcode).waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
    check("deny with a reason removes it from pending", (await card(page, xcode).count()) === 0 &&
          (await page.textContent("#notice")).includes("denied"));

    // ---- bob signs in with his TOTP code (no passkey) and approves with a fresh code.
    const bob = await browser.newContext();
    const bpage = await bob.newPage();
    await bpage.goto(URL + "/");
    await bpage.fill("#signin-name", "bob");
    await bpage.fill("#signin-code", "123456");
    await bpage.click("#signin-totp");
    await bpage.waitForSelector("#signin-error:text-matches('wrong|TOTP', 'i')", { timeout: 5000 }).catch(() => {});
    check("a wrong code does not sign in", !(await bpage.isVisible("#pending")), await bpage.textContent("#signin-error"));
    await bpage.fill("#signin-code", totp(env.DK_SECRET_BOB, -1));
    await bpage.click("#signin-totp");
    await bpage.waitForSelector("#pending:not([hidden])", { timeout: 10000 });
    const ocode = codeOf(other.out);
    await card(bpage, ocode).waitFor({ timeout: 5000 });
    await card(bpage, ocode).locator(".code-input").fill(totp(env.DK_SECRET_BOB));
    await card(bpage, ocode).locator(".approve-totp").click();
    await bpage.waitForSelector("#notice:text('approved')", { timeout: 10000 }).catch(() => {});
    const bresult = await bpage.textContent("#notice");
    check("approve with a TOTP code (fallback)", bresult.includes("approved") && bresult.includes(ocode), bresult);
    check("... then the agent's retry passes", hook("rm -rf " + env.DK_TARGET + "/sub").status === 0);

    // ---- hold2: two different approvers, each in their own session.
    fs.mkdirSync(env.DK_HOME + "/archive", { recursive: true });
    const two = hook("rm -rf " + env.DK_HOME + "/archive");
    const tcode = codeOf(two.out);
    check("the archive needs two approvers (hold2)", two.status === 2 && /two humans/i.test(two.out), two.out);
    await card(page, tcode).waitFor({ timeout: 5000 });
    check("the page says it needs two", (await card(page, tcode).innerText()).includes("needs 2 approvals"));
    await card(page, tcode).locator(".approve-passkey").click();
    await page.waitForSelector("#notice:text('another approver is needed')", { timeout: 10000 }).catch(() => {});
    check("the first approval of a hold2 is recorded, not enough", (await page.textContent("#notice")).includes("another approver"),
          await page.textContent("#notice"));
    check("... and the agent is still held", hook("rm -rf " + env.DK_HOME + "/archive").status === 2);
    await card(bpage, tcode).waitFor({ timeout: 5000 });
    await bpage.waitForFunction((id) => {
      const li = document.querySelector('#holds > li[data-id="' + id + '"]');
      return li && li.querySelector(".approvals").textContent.includes("alice");
    }, tcode, { timeout: 5000 }).catch(() => {});
    check("bob's page shows alice's approval live", (await card(bpage, tcode).innerText()).includes("approved so far by alice"));
    check("alice cannot approve twice (no approve button for her)", await card(page, tcode).locator(".approve-passkey").isHidden());
    await card(bpage, tcode).locator(".code-input").fill(totp(env.DK_SECRET_BOB, 1));
    await card(bpage, tcode).locator(".approve-totp").click();
    await bpage.waitForSelector("#notice:text('approved " + "')", { timeout: 10000 }).catch(() => {});
    await bpage.waitForFunction((id) => document.querySelector("#notice").textContent.includes(id), tcode, { timeout: 10000 }).catch(() => {});
    check("bob's approval completes the hold2", (await bpage.textContent("#notice")).includes("approved " ) &&
          (await bpage.textContent("#notice")).includes(tcode), await bpage.textContent("#notice"));
    check("then the agent's retry passes", hook("rm -rf " + env.DK_HOME + "/archive").status === 0);

    // ---- History: the audit log, its verify status, snapshots and restore.
    await historyView(page, code);

    // ---- 200 pending holds: the page renders them without stutter.
    await holdMany(200);
    const rendered = Date.now();
    await page.waitForFunction(() => document.querySelectorAll("#holds > li").length >= 200, null, { timeout: 20000 })
      .catch(() => {});
    const count = await page.locator("#holds > li").count();
    const renderMs = Date.now() - rendered;
    // The longest main-thread task while re-rendering all 200 (a refresh forced here).
    const longest = await page.evaluate(async () => {
      const t0 = performance.now();
      const reply = await (await fetch("/api/pending")).json();
      const fetched = performance.now();
      render(reply.requests);
      return { fetch_ms: fetched - t0, render_ms: performance.now() - fetched };
    });
    check("200 pending holds render", count >= 200, count + " shown, " + renderMs + " ms after the last was held");
    // Its time is a figure (printed below), not a pass/fail: timing is measured, not asserted.
    figures.push("holds_200_visible_ms=" + renderMs, "render_200_ms=" + longest.render_ms.toFixed(1),
                 "fetch_200_ms=" + longest.fetch_ms.toFixed(1));

    // ---- bad input.
    const anon = await browser.newContext();
    const q = anon.request;
    r = await q.get(URL + "/api/pending");
    check("pending without a session: 401", r.status() === 401, String(r.status()));
    r = await q.get(URL + "/no/such/page");
    check("unknown route: 404", r.status() === 404, String(r.status()));
    r = await q.post(URL + "/api/signin", { data: "{not json", headers: { "Content-Type": "application/json" } });
    check("malformed JSON: 400", r.status() === 400, String(r.status()));
    r = await q.post(URL + "/api/signin", { data: JSON.stringify({ approver: "alice", totp: "x".repeat(200000) }) });
    check("oversized request: refused", r.status() >= 400 && r.status() < 500, String(r.status()));
    r = await q.post(URL + "/api/signin", { data: { approver: "alice", passkey: { nonce: "x", credential_id: "AA", client_data_json: "AA", authenticator_data: "AA", signature: "AA" } } });
    check("a made-up passkey answer does not sign in", r.status() === 403, r.status() + " " + (await r.text()));
    // The agent, over HTTP (no credentials): enrolling its own passkey is
    // approver administration, refused without an approver's code.
    r = await q.post(URL + "/v1/passkey_enrol_begin", { data: { op: "passkey_enrol_begin", name: "alice" } });
    check("an HTTP caller cannot start a passkey enrolment", r.status() >= 400 && /approver administration/.test(await r.text()),
          r.status() + " " + (await r.text()));
    r = await q.post(URL + "/api/enrol/finish", { data: { token: "made-up", client_data_json: "AA", attestation_object: "AA" } });
    check("a made-up enrolment token: refused", r.status() === 404, String(r.status()));
    r = await q.get(URL + "/", { headers: { Host: "evil.example:80" } });
    check("a foreign Host (DNS rebinding): refused", r.status() === 421, String(r.status()));
    const page0 = await q.get(URL + "/");
    const csp = page0.headers()["content-security-policy"] || "";
    check("strict Content-Security-Policy", csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), csp);
    let weight = 0;
    for (const asset of ["/", "/app.js", "/app.css"]) weight += (await (await q.get(URL + asset)).body()).length;
    check("the page weighs under 100 KB", weight < 100 * 1024, weight + " bytes");
    check("no script errors in the page", errors.length === 0, errors.join(" | "));
    console.log("figures: shown_ms=" + shownMs + " page_bytes=" + weight + " phone_scroll_width=" + phoneWidth + " " +
                figures.join(" "));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(failed ? 1 : 0), (e) => { console.log("not ok crashed: " + (e && e.stack || e)); process.exit(1); });
