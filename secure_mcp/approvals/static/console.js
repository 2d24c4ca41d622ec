// secure-mcp approval console. Untrusted text (the question) only ever goes in through textContent.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const pendingList = document.getElementById("pending");
  const recentBody = document.getElementById("recent");
  const live = document.getElementById("live");
  let state = JSON.parse(document.getElementById("initial").textContent);
  let selected = new URLSearchParams(location.search).get("call");
  const busy = new Set();

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function ago(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return new Date(ts * 1000).toLocaleTimeString();
  }

  function left(ts) {
    const s = Math.max(0, Math.round(ts - Date.now() / 1000));
    return s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s left" : s + " s left";
  }

  const VERDICT = /^(\S.*?): (allow|confirm|deny|unknown)( \(.*\))?$/;

  // "prog: verdict (why)": the program, a coloured verdict chip, the reason.
  function verdictLine(m) {
    const node = el("span", "q-verdict");
    node.appendChild(el("span", "prog", m[1]));
    node.appendChild(el("span", "chip v-" + m[2], m[2]));
    node.appendChild(el("span", "why", m[3] || ""));
    return node;
  }

  // One line of the question, classified: diff lines, verdict lines, the command, the reasons.
  function renderQuestion(text) {
    const pre = el("pre", "question");
    let inAction = false;
    for (const line of text.split("\n")) {
      let node;
      if (line === "--- exact action ---") {
        inAction = true;
        node = el("span", "q-sep", "exact action");
      } else if (!inAction && !VERDICT.test(line)) {
        node = el("span", line.startsWith("- ") ? "q-why" : "q-head", line);
      } else if (!inAction) {
        node = verdictLine(VERDICT.exec(line));
      } else if (line.startsWith("+++ ") || line.startsWith("--- ")) {
        node = el("span", "d-file", line);
      } else if (line.startsWith("@@")) {
        node = el("span", "d-hunk", line);
      } else if (line.startsWith("+")) {
        node = el("span", "d-add", line);
      } else if (line.startsWith("-")) {
        node = el("span", "d-del", line);
      } else if (line.startsWith("$ ")) {
        node = el("span", "q-cmd", line);
      } else {
        const m = VERDICT.exec(line);
        if (m) {
          node = verdictLine(m);
        } else {
          node = el("span", "q-line", line);
        }
      }
      pre.appendChild(node);
      pre.appendChild(document.createTextNode("\n"));
    }
    return pre;
  }

  function card(item) {
    const li = el("li", "card");
    li.id = "call-" + item.id;
    li.dataset.id = item.id;
    if (item.id === selected) li.classList.add("selected");
    const head = el("div", "card-head");
    head.appendChild(el("span", "tool tool-" + item.tool, item.tool));
    head.appendChild(el("span", "principal", item.principal));
    head.appendChild(el("span", "transport", "over " + item.transport));
    head.appendChild(el("span", "spacer"));
    head.appendChild(el("span", "when", ago(item.created)));
    head.appendChild(el("span", "expires", left(item.expires)));
    head.appendChild(el("code", "cid", item.id));
    li.appendChild(head);
    li.appendChild(renderQuestion(item.question));
    const foot = el("div", "card-foot");
    foot.appendChild(el("span", "digest", "binds to sha256 " + item.digest.slice(0, 16) + "…"));
    foot.appendChild(el("span", "spacer"));
    const deny = el("button", "deny", "Deny");
    deny.type = "button";
    deny.title = "deny (d)";
    deny.addEventListener("click", () => decide(item, "deny"));
    const approve = el("button", "approve", "Approve");
    approve.type = "button";
    approve.title = "approve (a)";
    approve.addEventListener("click", () => decide(item, "approve"));
    foot.appendChild(deny);
    foot.appendChild(approve);
    const msg = el("span", "msg");
    foot.appendChild(msg);
    li.appendChild(foot);
    li.addEventListener("click", () => select(item.id));
    return li;
  }

  function outcome(item) {
    if (item.state === "decided") return item.approved ? "approved" : "denied";
    return item.state;
  }

  function row(item) {
    const tr = el("tr", "o-" + outcome(item));
    tr.appendChild(el("td", "", new Date((item.decided_at || item.expires) * 1000).toLocaleTimeString()));
    tr.appendChild(el("td", "", null)).appendChild(el("code", "", item.id));
    tr.appendChild(el("td", "", item.tool));
    tr.appendChild(el("td", "", item.principal));
    tr.appendChild(el("td", "", null)).appendChild(el("span", "chip o-" + outcome(item), outcome(item)));
    tr.appendChild(el("td", "", item.approver || "—"));
    tr.appendChild(el("td", "", item.channel || "—"));
    tr.appendChild(el("td", "", item.waited_ms === null ? "—" : (item.waited_ms / 1000).toFixed(1) + " s"));
    return tr;
  }

  function render() {
    const ids = state.pending.map((p) => p.id);
    if (!ids.includes(selected)) selected = ids.length ? ids[0] : null;
    pendingList.replaceChildren(...state.pending.map(card));
    recentBody.replaceChildren(...state.recent.map(row));
    document.getElementById("empty").hidden = state.pending.length > 0;
    document.getElementById("count").textContent = state.pending.length + " pending";
    document.title = (state.pending.length ? "(" + state.pending.length + ") " : "") + "secure-mcp approvals";
  }

  function select(id) {
    selected = id;
    for (const li of pendingList.children) li.classList.toggle("selected", li.dataset.id === id);
    const node = document.getElementById("call-" + id);
    if (node) node.scrollIntoView({ block: "nearest" });
  }

  async function decide(item, decision) {
    if (busy.has(item.id)) return;
    busy.add(item.id);
    const node = document.getElementById("call-" + item.id);
    try {
      const response = await fetch("/api/decide", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ id: item.id, digest: item.digest, decision: decision }),
      });
      const body = await response.json();
      if (!response.ok && node) node.querySelector(".msg").textContent = body.error || "failed";
    } catch (error) {
      if (node) node.querySelector(".msg").textContent = "network error";
    } finally {
      busy.delete(item.id);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const ids = state.pending.map((p) => p.id);
    const at = ids.indexOf(selected);
    const current = state.pending[at];
    if (event.key === "j" && ids.length) select(ids[Math.min(ids.length - 1, at + 1)]);
    else if (event.key === "k" && ids.length) select(ids[Math.max(0, at - 1)]);
    else if (event.key === "a" && current) decide(current, "approve");
    else if (event.key === "d" && current) decide(current, "deny");
  });

  document.getElementById("signout").addEventListener("click", async () => {
    await fetch("/signout", { method: "POST", credentials: "same-origin", headers: { "x-csrf-token": csrf } });
    location.reload();
  });

  function connect() {
    const source = new EventSource("/events");
    source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
    source.onmessage = (event) => { state = JSON.parse(event.data); render(); };
    source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  }

  render();
  if (selected) select(selected);
  connect();
  setInterval(() => {
    for (const li of pendingList.children) {
      const item = state.pending.find((p) => p.id === li.dataset.id);
      if (!item) continue;
      li.querySelector(".when").textContent = ago(item.created);
      li.querySelector(".expires").textContent = left(item.expires);
    }
  }, 1000);
})();
