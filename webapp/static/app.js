// optimerge review: live updates (Server-Sent Events, polling as the fallback), the rollback
// confirmation and checks of corrected JSON before it is sent. Plain JS, no build step; the
// pages work without it (forms post, a confirmation page replaces the dialog).
(function () {
  "use strict";

  function announce(text) {
    const el = document.getElementById("announcer");
    if (el) { el.textContent = ""; window.setTimeout(function () { el.textContent = text; }, 50); }
  }

  function setLiveState(state, text) {
    document.querySelectorAll("[data-live-state]").forEach(function (el) {
      el.hidden = false;
      el.dataset.state = state;
      el.textContent = text;
    });
  }

  // One live channel: the event stream, or polling when the stream is unavailable. `poll` also
  // runs each time the stream (re)opens: whatever happened before it listened is read then.
  function liveChannel(url, onEvent, poll, pollMs, pollOnFirstOpen) {
    let timer = null;
    function startPolling() {
      if (timer) return;
      setLiveState("polling", "Updating every " + Math.round(pollMs / 1000) + " s");
      poll();
      timer = window.setInterval(poll, pollMs);
    }
    if (!("EventSource" in window)) { startPolling(); return; }
    const source = new EventSource(url);
    let opened = 0;
    source.onopen = function () {
      setLiveState("live", "Live");
      opened += 1;
      if (opened > 1 || pollOnFirstOpen) poll();
    };
    ["flagged", "status", "resync"].forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        let data = {};
        try { data = JSON.parse(e.data); } catch (err) { data = {}; }
        onEvent(kind, data);
      });
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { startPolling(); }
      else { setLiveState("polling", "Reconnecting…"); }
    };
  }

  async function fetchHtml(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected || response.status === 401) { window.location.reload(); return null; }
    return response.ok ? response.text() : null;
  }

  // The flagged list and the dashboard widget: re-render from the server when the queue changes.
  function initRefreshable(container, describe) {
    const notice = document.getElementById("live-notice");
    let pending = null;
    let timer = null;

    function swap(html) {
      container.innerHTML = html;
      pending = null;
      if (notice) notice.hidden = true;
      const total = container.querySelector("[data-queue-total]");
      const widget = container.querySelector("[data-count]");
      const count = total ? total.dataset.queueTotal : widget ? widget.dataset.count : null;
      if (count !== null) {
        document.querySelectorAll(".count-pill[data-queue-total]").forEach(function (el) { el.textContent = count; });
        document.title = document.title.replace(/\(\d+( flagged)?\)/, function (m, suffix) { return "(" + count + (suffix || "") + ")"; });
        announce(describe(count));
      }
    }

    async function refresh() {
      const html = await fetchHtml(container.dataset.source);
      if (html === null) return;
      // Never pull the table from under a keyboard user: offer the update instead.
      if (notice && container.contains(document.activeElement)) {
        pending = html;
        notice.hidden = false;
        return;
      }
      swap(html);
    }

    if (notice) {
      const button = notice.querySelector("[data-live-refresh]");
      if (button) button.addEventListener("click", function () { if (pending) swap(pending); else refresh(); });
    }
    return function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    };
  }

  function initQueue() {
    const container = document.querySelector("[data-live]");
    if (!container) return;
    const isWidget = container.dataset.live === "widget";
    const schedule = initRefreshable(container, function (count) {
      return isWidget ? count + " flagged documents are waiting." : "The list was updated: " + count + " flagged documents in the queue.";
    });
    liveChannel("/events?kinds=flagged", function () { schedule(); }, schedule, 15000, false);
  }

  // Operator pages (retries, processing status): re-render a fragment when an event of its
  // kinds arrives, and every few seconds while something in it is still pending.
  function initLiveFragments() {
    document.querySelectorAll("[data-live-fragment]").forEach(function (container) {
      const schedule = initRefreshable(container, function (count) { return count + " updated."; });
      const documentId = container.dataset.documentId;
      const url = "/events?kinds=" + encodeURIComponent(container.dataset.kinds || "status") +
        (documentId ? "&document_id=" + encodeURIComponent(documentId) : "");
      liveChannel(url, function () { schedule(); }, schedule, 5000, true);
      window.setInterval(function () {
        if (container.querySelector("[data-level='pending']") || container.querySelector("[data-testid='not-yet']")) schedule();
      }, 3000);
    });
  }

  // The verify page: wait for the outcome of the action just sent, then show it.
  function initPendingAction() {
    const banner = document.querySelector("[data-pending-action]");
    if (!banner) return;
    const actionId = banner.dataset.pendingAction;
    const documentId = banner.dataset.documentId;
    let finished = false;

    function finish(title, detail) {
      if (finished) return;
      finished = true;
      banner.querySelector("[data-outcome-title]").textContent = title;
      banner.querySelector("[data-outcome-detail]").textContent = detail;
      // The server renders the outcome and the document as it now is.
      window.location.reload();
    }

    async function check() {
      if (finished) return;
      const url = "/api/documents/" + encodeURIComponent(documentId) + "/status?action_id=" + encodeURIComponent(actionId);
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      if (body.action && body.action.state === "done") finish(body.action.outcome === "applied" ? "Done." : "Not applied.", body.action.message || "");
    }

    // Checked once the stream listens (an action applied before that is read from the
    // database), and every few seconds besides, in case an event is missed.
    window.setInterval(check, 5000);
    liveChannel(
      "/events?kinds=status&document_id=" + encodeURIComponent(documentId),
      function (kind, data) {
        if (kind === "resync") { check(); return; }
        if (data.action_id !== actionId) return;
        finish(data.conflict ? "Not applied." : "Done.", data.reason || "");
      },
      check,
      1500,
      true
    );
    window.setTimeout(function () {
      if (finished) return;
      banner.querySelector("[data-outcome-detail]").textContent =
        "Still waiting for the merge worker. The action is safely queued and is applied as soon as a worker runs; you can leave this page and come back.";
    }, 20000);
  }

  // The verify page without an action under way: say so when the document changes meanwhile
  // (a newer extraction, another reviewer), before this reviewer acts on what they saw.
  function initChangeWatch() {
    const notice = document.querySelector("[data-watch-document]");
    if (!notice || document.querySelector("[data-pending-action]")) return;
    const seen = Number(notice.dataset.version);
    function changed(version) {
      if (!(version > seen)) return;
      notice.querySelector("[data-new-version]").textContent = String(version);
      notice.hidden = false;
    }
    async function check() {
      const url = "/api/documents/" + encodeURIComponent(notice.dataset.watchDocument) + "/status";
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) changed((await response.json()).version);
    }
    liveChannel(
      "/events?kinds=status&document_id=" + encodeURIComponent(notice.dataset.watchDocument),
      function (kind, data) { if (kind === "resync") check(); else changed(data.version); },
      check,
      15000,
      true
    );
  }

  // Mirrors the server's checks (webapp/corrections.py), so mistakes show before anything is sent.
  function checkResources(text, patientId) {
    if (!text.trim()) return ["The corrected resources are empty: paste a JSON array."];
    let data;
    try { data = JSON.parse(text); } catch (err) { return ["This is not valid JSON: " + err.message]; }
    if (!Array.isArray(data)) return ["Expected a JSON array of resources: [ {…}, {…} ]."];
    if (data.length === 0) return ["The list is empty. To take this document's data out of the record, use “Remove from record” instead."];
    const problems = [];
    const seen = new Set();
    const own = ["Patient/" + patientId, "urn:uuid:" + patientId];
    data.forEach(function (resource, i) {
      let where = "Resource " + (i + 1);
      if (resource === null || typeof resource !== "object" || Array.isArray(resource)) { problems.push(where + " is not a JSON object."); return; }
      const type = resource.resourceType;
      if (typeof type !== "string" || !/^[A-Z][A-Za-z]{1,63}$/.test(type)) { problems.push(where + " needs a resourceType such as “Condition”."); return; }
      where += " (" + type + ")";
      if (type === "Patient" || type === "Bundle") problems.push(where + ": a document cannot contribute a " + type + ".");
      if (resource.id !== undefined) {
        if (typeof resource.id !== "string" || !resource.id) problems.push(where + ": “id” must be a non-empty string.");
        else if (seen.has(resource.id)) problems.push(where + ": id " + resource.id + " is used twice.");
        else seen.add(resource.id);
      }
      JSON.stringify(resource, function (key, value) {
        if (key === "reference" && typeof value === "string" && value.indexOf("Patient/") === 0 && own.indexOf(value) < 0) {
          problems.push(where + " refers to another patient (" + value + ").");
        }
        return value;
      });
    });
    return problems;
  }

  function initActionForm() {
    const form = document.querySelector("[data-action-form]");
    if (!form) return;
    const editor = document.getElementById("corrected");
    const errors = document.getElementById("correct-errors");
    const details = document.getElementById("correct-details");

    function showProblems(problems, okText) {
      if (!errors) return;
      errors.hidden = false;
      errors.classList.toggle("field-ok", problems.length === 0);
      errors.innerHTML = "";
      if (problems.length === 0) { errors.textContent = okText; return; }
      const list = document.createElement("ul");
      problems.forEach(function (p) { const li = document.createElement("li"); li.textContent = p; list.appendChild(li); });
      errors.appendChild(list);
    }

    document.querySelectorAll("[data-open-correction]").forEach(function (link) {
      link.addEventListener("click", function (e) {
        if (!details || !editor) return;
        e.preventDefault();
        details.open = true;
        details.scrollIntoView({ block: "start" });
        editor.focus();
      });
    });
    const checkButton = document.querySelector("[data-check-json]");
    if (checkButton && editor) {
      checkButton.addEventListener("click", function () {
        const problems = checkResources(editor.value, form.dataset.patientId);
        let count = 0;
        try { count = JSON.parse(editor.value).length; } catch (err) { count = 0; }
        showProblems(problems, "Looks right: " + count + " resources, ready to send.");
      });
    }

    form.addEventListener("submit", function (e) {
      const action = e.submitter ? e.submitter.value : "";
      if (action === "rollback") {
        const n = form.dataset.resourceCount;
        const ok = window.confirm(
          "Remove this document from the patient's record?\n\nAll " + n + " of its resources will be taken out of the record. " +
          "Resources from other documents are not touched."
        );
        if (!ok) { e.preventDefault(); return; }
        form.elements.namedItem("confirmed").value = "yes";
      } else if (action === "correct_data" && editor) {
        const problems = checkResources(editor.value, form.dataset.patientId);
        if (problems.length) {
          e.preventDefault();
          showProblems(problems, "");
          editor.focus();
          return;
        }
      }
      // One decision per click: the buttons stay disabled until the page reloads.
      window.setTimeout(function () {
        document.querySelectorAll("button[form='action-form'], [data-action-form] button").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }

  function focusMessage() {
    const target = document.getElementById("action-errors") || document.getElementById("outcome");
    if (target) target.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    initQueue();
    initLiveFragments();
    initPendingAction();
    initChangeWatch();
    initActionForm();
    focusMessage();
  });
})();
