// Phoenix Board's page script: optional. Every page reads without it and every form posts
// without it; with it, (a) the open page follows the API's subscriptions (graphql-transport-ws
// on /graphql; the session cookie authenticates the handshake: new tasks, status changes, votes
// and comments) and (b) forms post in place.
// Whatever changed is re-read from the server as HTML (a board row, a task page's sections),
// so the pages have one renderer: the server's templates.
"use strict";
(function () {
  const body = document.body;
  const state = document.getElementById("live-state");
  const say = (text) => { if (state) state.textContent = text; };
  const hex = (id) => String(id).replace(/-/g, "");

  async function html(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.text();
  }

  // --- the board: a changed task's row is re-read; a new task shows on the first page of "new"
  async function refreshRow(taskId, isNew) {
    const tbody = document.getElementById("board-rows");
    if (!tbody) return;
    const old = document.getElementById("task-" + hex(taskId));
    if (!old && !isNew) return;
    const fits = body.dataset.sort === "new" && body.dataset.firstPage === "1" && body.dataset.filtered === "0";
    if (isNew && !old && !fits) {  // it belongs somewhere else in this listing, or maybe not in it at all
      const news = document.getElementById("live-news");
      if (news) news.hidden = false;
      return;
    }
    const t = document.createElement("template");
    t.innerHTML = (await html("/t/" + hex(taskId) + "/row")).trim();
    const row = t.content.querySelector("tr");
    if (!row) return;
    row.classList.add("fresh");
    if (old) old.replaceWith(row); else tbody.prepend(row);
  }

  // --- a vote or comment on a board row: the counts come in the event itself (no re-read)
  function applyCounts(taskId, p) {
    const row = document.getElementById("task-" + hex(taskId));
    if (!row || p.comment_id && p.comment_count === undefined) return;  // a comment's vote: not on the board
    if (p.score !== undefined) {
      const score = row.querySelector(".score");
      if (score) score.textContent = String(p.score);
      const split = score && score.nextElementSibling;
      if (split) split.textContent = "+" + p.upvotes + "/-" + p.downvotes;
    }
    if (p.comment_count !== undefined) {
      const cell = row.querySelector("[data-label=comments]");
      if (cell) cell.textContent = String(p.comment_count);
    }
    row.classList.remove("fresh");
    void row.offsetWidth;  // restart the highlight
    row.classList.add("fresh");
  }

  // --- a task's page: its [data-refresh] sections are re-read from the page itself
  // Events that arrive during a re-read ask for one more, after it: the page it is reading may
  // predate them (a burst of votes costs two re-reads, not one each).
  let refreshing = null;
  let again = false;
  function refreshSections() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        do {
          again = false;
          const t = document.createElement("template");
          t.innerHTML = await html(location.pathname);
          for (const fresh of t.content.querySelectorAll("[data-refresh][id]")) {
            const here = document.getElementById(fresh.id);
            if (!here) continue;
            // someone typing here keeps the section as it is (a button just pressed does not count),
            // and so does a reply box they opened: replacing the section would close it under them
            const focus = document.activeElement;
            const busy = (here.contains(focus) && focus.matches("textarea, select, input:not([type=hidden])")) ||
              [...here.querySelectorAll("textarea")].some((x) => x.value.trim() !== "") ||
              [...here.querySelectorAll("details[open]")].some((d) => d.querySelector("form"));
            if (!busy) { here.replaceWith(fresh); bindForms(fresh); }
          }
        } while (again);
      } finally { refreshing = null; }
    })();
    return refreshing;
  }

  // --- forms post in place (the server answers JSON to X-Phoenix-Fetch) and the page refreshes
  function bindForms(root) {
    for (const form of root.querySelectorAll("form[data-js]")) {
      if (form.dataset.bound) continue;
      form.dataset.bound = "1";
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          const r = await fetch(form.action, {
            method: "POST", credentials: "same-origin",
            headers: { "X-Phoenix-Fetch": "1", "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(new FormData(form)),
          });
          const answer = await r.json().catch(() => ({ error: "the server answered " + r.status }));
          note(answer.error || answer.note, Boolean(answer.error));
          if (!answer.error) {
            for (const area of form.querySelectorAll("textarea")) area.value = "";
            const box = form.closest("details");  // a reply sent: its box closes, the thread shows it
            if (box) box.open = false;
            // the task's page and the console re-read their [data-refresh] sections (the console's held gates)
            if (body.dataset.live === "task" || body.dataset.live === "console") await refreshSections();
          }
        } catch (e) {
          note("not sent: " + e.message, true);
        } finally {
          if (button) button.disabled = false;
        }
      });
    }
  }

  function note(text, isError) {
    if (!text) return;
    let box = document.getElementById("js-note");
    if (!box) {
      box = document.createElement("p");
      box.id = "js-note";
      box.setAttribute("role", "status");
      document.getElementById("main").prepend(box);
    }
    box.className = isError ? "error" : "note";
    box.textContent = text;  // text, never markup: messages may quote what a person typed
  }

  // --- the subscriptions (graphql-transport-ws)
  function subscriptions() {
    const live = body.dataset.live;
    if (live === "board") {
      const team = body.dataset.team || null;  // a team's board hears only of that team's tasks
      const subs = [{ query: "subscription($team: String) { taskCreated(team: $team) { taskId } }",
        variables: { team }, on: (e) => refreshRow(e.taskCreated.taskId, true) }];
      // status changes, votes and comments: one subscription each for the whole listing, however
      // many teams it shows (each counts against the token's api_max_subscriptions)
      subs.push({ query: "subscription($team: String) { taskUpdated(team: $team) { taskId } }",
        variables: { team }, on: (e) => refreshRow(e.taskUpdated.taskId, false) });
      for (const field of ["taskVoted", "taskCommented"]) {
        subs.push({ query: "subscription($team: String) { " + field + "(team: $team) { taskId payload } }",
          variables: { team }, on: (e) => applyCounts(e[field].taskId, e[field].payload || {}) });
      }
      return subs;
    }
    if (live === "task") {
      // a status change, a vote (on the task or a comment) or a comment: the sections are re-read,
      // which brings the new comment into its thread and the counts up to date
      return ["taskUpdated", "taskVoted", "taskCommented"].map((field) => ({
        query: "subscription($id: ID) { " + field + "(id: $id) { taskId } }",
        variables: { id: body.dataset.task }, on: () => refreshSections() }));
    }
    return [];
  }

  function connect(subs, delay) {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql",
      "graphql-transport-ws");
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "connection_ack") {
        say("live");
        body.dataset.liveReady = "1";
        delete body.dataset.liveError;  // a refusal before a reconnect says nothing of this connection
        delay = 1000;
        subs.forEach((s, i) => ws.send(JSON.stringify({ id: String(i), type: "subscribe",
          payload: { query: s.query, variables: s.variables || {} } })));
      } else if (msg.type === "error" || (msg.type === "next" && msg.payload && msg.payload.errors)) {
        // a subscription the server refused (too many open pages on this token, a revoked
        // token): say so rather than claim to be live; the page still works with reloads
        const list = msg.type === "error" ? msg.payload : msg.payload.errors;
        const first = Array.isArray(list) && list[0] && list[0].message ? list[0].message : "refused";
        body.dataset.liveReady = "";
        body.dataset.liveError = first;
        say("not live: " + first);
      } else if (msg.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (msg.type === "next" && msg.payload && msg.payload.data) {
        const s = subs[Number(msg.id)];
        // a failed re-read leaves the page as it was: the next event, or a reload, brings it up to date
        if (s) Promise.resolve(s.on(msg.payload.data)).catch(() => say("live (one update missed)"));
      }
    };
    ws.onclose = () => {
      say("offline: reconnecting");
      body.dataset.liveReady = "";
      setTimeout(() => {
        connect(subs, Math.min(delay * 2, 30000));
        if (body.dataset.live === "task") refreshSections().catch(() => {});  // what changed while away
      }, delay);
    };
  }

  bindForms(document);
  const subs = subscriptions();
  if (subs.length && "WebSocket" in window) connect(subs, 1000);
})();
