// The face library page's behaviour: plain JavaScript, no build step, no third-party code.
// Every change sends the session's CSRF token (from <main data-csrf>) in X-CSRF-Token.
"use strict";

(function () {
  const main = document.querySelector("main");
  const csrf = main ? main.dataset.csrf : "";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  async function send(url, body, json) {
    const headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method: "POST", body: json ? JSON.stringify(body) : body,
                                        headers, credentials: "same-origin" });
    let data;
    try { data = await response.json(); } catch (e) { data = { status: "error", message: "HTTP " + response.status }; }
    if (response.status === 401) { window.location = "/ui/login?next=" + encodeURIComponent(location.pathname); }
    return data;
  }

  // Forms that destroy something ask first.
  function bindConfirms(root) {
    if (!root) return;
    root.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }
  bindConfirms(document);

  // Enroll by upload: one request per file, each file's result shown as it comes.
  const uploadForm = document.getElementById("upload-form");
  if (uploadForm) {
    const input = document.getElementById("upload-files");
    const drop = document.getElementById("drop");
    const results = document.getElementById("upload-results");
    const nameInput = document.getElementById("upload-name");

    // The grid, count and pager as the appliance now has them, without reloading the page
    // (so the per-file results above stay in view).
    async function refreshGrid() {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["set-count", "library"]) {
        const next = fresh.getElementById(id);
        if (next) document.getElementById(id).replaceWith(document.adoptNode(next));
      }
      bindConfirms(document.getElementById("library"));
    }

    async function uploadAll(files) {
      let enrolled = 0;
      for (const file of files) {
        const line = el("li", { class: "pending" }, file.name + ": enrolling…");
        results.append(line);
        const body = new FormData();
        body.append("photo", file, file.name);
        body.append("name", nameInput.value);
        let data;
        try { data = await send(uploadForm.dataset.url, body, false); }
        catch (e) { data = { status: "error", message: "the appliance did not answer" }; }
        line.className = data.status;
        line.dataset.file = file.name;
        if (data.status === "enrolled") {
          enrolled += 1;
          line.replaceChildren(el("img", { src: data.chip_url, alt: "" }),
                               file.name + ": enrolled as " + (data.name || "person " + data.person_id));
        } else if (data.status === "refused") {
          line.textContent = file.name + ": refused: " + data.reasons_text;
        } else {
          line.textContent = file.name + ": " + (data.message || "failed");
        }
      }
      if (enrolled) await refreshGrid();
    }
    input.addEventListener("change", () => { uploadAll(Array.from(input.files)); });
    ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
      event.preventDefault(); drop.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      uploadAll(Array.from(event.dataTransfer.files));
    });
  }

  // Search by photo: the top matches with their similarity.
  const searchForm = document.getElementById("search-form");
  if (searchForm) {
    const input = document.getElementById("search-file");
    const out = document.getElementById("search-results");
    input.addEventListener("change", async () => {
      if (!input.files.length) return;
      out.replaceChildren(el("p", { class: "muted" }, "searching…"));
      const body = new FormData();
      body.append("photo", input.files[0], input.files[0].name);
      const data = await send(searchForm.dataset.url, body, false);
      if (data.status !== "searched") {
        out.replaceChildren(el("p", { class: "error", id: "search-error" }, data.reasons_text || data.message));
        return;
      }
      if (!data.matches.length) {
        out.replaceChildren(el("p", { class: "muted", id: "no-match" }, "no face in this set"));
        return;
      }
      out.replaceChildren(...data.matches.map((m) => el("div", { class: "match", "data-person-id": m.person_id },
        el("img", { src: m.chip_url, alt: "" }),
        el("strong", {}, m.name || "person " + m.person_id), el("br"),
        el("span", { class: "similarity" }, (m.similarity * 100).toFixed(1) + " %"))));
    });
  }

  // Camera: a throttled preview, enroll now, arming the button with a name.
  const preview = document.getElementById("preview");
  const sources = { "button": "button", "web.camera": "enroll now", "http": "POST /enrollment" };
  if (preview) {
    const controls = document.getElementById("camera-controls");
    const nameInput = document.getElementById("camera-name");
    const armed = document.getElementById("armed");
    const result = document.getElementById("burst-result");

    function showResult(r) {
      if (!r) return;
      result.className = "result " + r.status;
      const how = (sources[r.source] || r.source) + ", " + (r.frames === 1 ? "1 frame" : r.frames + " frames");
      result.replaceChildren(r.status === "enrolled"
        ? "Enrolled " + (r.name || "person " + r.person_id) + " (" + how + ")"
        : "Refused: " + r.reasons_text + " (" + how + ")");
    }
    async function refresh() {
      if (document.hidden) return;
      preview.src = preview.dataset.url + "?t=" + Date.now();
      const response = await fetch(controls.dataset.state, { credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      armed.textContent = state.armed ? "Armed for " + (state.armed.name || "person " + state.armed.person_id) : "";
      showResult(state.last_result);
    }
    document.getElementById("enroll-now").addEventListener("click", async () => {
      result.textContent = "capturing…";
      const data = await send("/ui/api/camera/enroll", { name: nameInput.value }, true);
      if (data.status === "enrolled" || data.status === "refused") showResult(data);
      else result.textContent = data.message;
    });
    document.getElementById("arm").addEventListener("click", async () => {
      const data = await send("/ui/api/camera/arm", { name: nameInput.value }, true);
      armed.textContent = data.armed ? "Armed for " + (data.armed.name || data.armed.person_id) : data.message;
    });
    refresh();
    setInterval(refresh, 2000);
  }

  // Activity: entries pushed by the appliance as server-sent events; recognitions can be
  // corrected ("Not this person", "Assign to…") where they are listed.
  const activity = document.getElementById("activity");
  if (activity) {
    const clock = (at) => new Date(at * 1000).toLocaleTimeString([], { hour12: false });
    const percent = (s) => (s * 100).toFixed(1) + " %";

    function show(item) {
      const empty = document.getElementById("no-activity");
      if (empty) empty.remove();
      activity.prepend(item);
    }
    function enrollmentItem(e) {
      const link = el("a", { href: "/ui/sets/" + encodeURIComponent(e.face_set) }, e.face_set);
      const who = e.name ? e.name : "person " + e.person_id;
      const what = e.kind === "enrolled" ? " · " + who + " · " + e.external_image_id : " · " + e.reasons_text;
      const item = el("li", { class: "entry " + e.kind });
      if (e.kind === "enrolled") item.append(el("img", { src: "/ui/chips/" + e.face_id, width: 48, height: 48, alt: "" }));
      item.append(el("span", {}, el("strong", {}, e.kind), " · ", link, " · " + e.source_text + what),
                  el("time", { class: "muted" }, clock(e.at)));
      return item;
    }
    function recognitionItem(e) {
      const who = e.name || "person " + e.person_id;
      const what = e.kind === "recognized" ? who + " (" + percent(e.similarity) + ")"
        : e.person_id ? "closest: " + who + " (" + percent(e.similarity) + ")" : "nobody enrolled to compare with";
      const text = el("span", {}, el("strong", {}, e.kind), " · " + e.camera + " · " + what,
                      el("span", { class: "correction" }, e.correction ? " · " + e.correction : ""));
      if (!e.correction) {
        const fix = el("span", { class: "fix" });
        if (e.kind === "recognized") fix.append(el("button", { type: "button", class: "small secondary reject" }, "Not this person"));
        fix.append(el("form", { class: "assign inline" },
          el("input", { name: "name", placeholder: "Assign to…", maxlength: "64", required: "" }),
          el("button", { type: "submit", class: "small" }, "Assign")));
        text.append(fix);
      }
      return el("li", { class: "entry " + e.kind, "data-event-id": e.event_id },
                el("img", { src: "/ui/recognitions/" + e.event_id + "/chip", width: 48, height: 48, alt: "" }),
                text, el("time", { class: "muted" }, clock(e.at)));
    }
    async function correct(item, action, body) {
      const data = await send("/ui/api/recognitions/" + item.dataset.eventId + "/" + action, body, true);
      const fix = item.querySelector(".fix");
      if (data.status === "assigned" || data.status === "rejected") {
        if (fix) fix.remove();
        item.querySelector(".correction").textContent = data.status === "assigned"
          ? " · assigned to " + (data.name || "person " + data.person_id) : " · rejected";
      } else if (fix) {
        fix.querySelector(".fix-error")?.remove();
        fix.append(el("span", { class: "error fix-error" }, data.message || "failed"));
      }
    }
    activity.addEventListener("click", (event) => {
      const button = event.target.closest("button.reject");
      if (button) correct(button.closest("li"), "reject", {});
    });
    activity.addEventListener("submit", (event) => {
      const form = event.target.closest("form.assign");
      if (!form) return;
      event.preventDefault();
      correct(form.closest("li"), "assign", { name: form.elements.name.value });
    });

    if (window.EventSource) {
      const live = document.getElementById("live");
      const source = new EventSource(activity.dataset.stream);
      source.onopen = () => { live.textContent = "· live"; };
      source.onerror = () => { live.textContent = "· reconnecting"; };
      source.addEventListener("activity", (event) => show(enrollmentItem(JSON.parse(event.data))));
      source.addEventListener("recognition", (event) => show(recognitionItem(JSON.parse(event.data))));
    }
  }
})();
