// PublishPanel view: a checklist and Start (no job yet), then the job's live rows and summary.
// Ids, descriptions and error texts are set with textContent: data, never markup.
function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function render({ model, el }) {
  el.classList.add("scout-root", "scout-publish");
  const error = h("div", "scout-line");
  const body = h("div");
  el.append(body, error);
  let timer = null;

  function showError() {
    if (timer) { clearInterval(timer); timer = null; }
    error.replaceChildren();
    const e = model.get("error");
    if (!e || !e.text) return;
    const line = h("span", "scout-error", e.text);
    error.append(line);
    if (e.retry_at) {
      const tick = () => {
        const left = Math.ceil((e.retry_at - Date.now()) / 1000);
        line.textContent = left > 0 ? `Rate limit exceeded: retry in ${left} s` : "Rate limit over: you can retry now";
        if (left <= 0) { clearInterval(timer); timer = null; }
      };
      tick();
      timer = setInterval(tick, 1000);
    }
  }

  function checklist() {
    const wrap = h("div");
    wrap.append(h("div", null, "Choose the datasets to publish:"));
    const list = h("div", "scout-checklist");
    const chosen = new Set(model.get("selected"));
    const boxes = [];
    for (const c of model.get("choices")) {
      const label = h("label");
      const box = h("input");
      box.type = "checkbox";
      box.value = c.id;
      box.checked = chosen.has(c.id);
      boxes.push(box);
      label.title = c.description;
      label.append(box, h("span", "scout-id", c.id));
      list.append(label);
    }
    const line = h("div", "scout-line");
    const all = h("button", "scout-btn", "Select all");
    const none = h("button", "scout-btn", "Select none");
    const start = h("button", "scout-btn scout-btn--primary", "Start publish");
    const note = h("span", "scout-muted");
    const count = () => {
      const n = boxes.filter((b) => b.checked).length;
      note.textContent = `${n} of ${boxes.length} selected`;
      start.disabled = n === 0;
    };
    all.onclick = () => { boxes.forEach((b) => { b.checked = true; }); count(); };
    none.onclick = () => { boxes.forEach((b) => { b.checked = false; }); count(); };
    list.addEventListener("change", count);
    start.onclick = () => {
      start.disabled = true;
      start.textContent = "Starting…";
      model.send({ action: "start", ids: boxes.filter((b) => b.checked).map((b) => b.value) });
    };
    count();
    line.append(start, all, none, note);
    wrap.append(list, line);
    return wrap;
  }

  function jobView(job) {
    const wrap = h("div");
    const head = h("div", "scout-line");
    head.append(h("b", null, `Publish job ${job.job_id}`),
                h("span", `scout-state scout-state--${job.state}`, job.state));
    const bar = h("progress", "scout-progress");
    bar.max = 1;
    bar.value = job.progress;
    head.append(bar, h("span", "scout-muted", `${Math.round(job.progress * 100)}% · manifest ${job.manifest}`));
    const table = h("table", "scout-table scout-publish-table");
    const hr = h("tr");
    for (const [label, num] of [["Dataset"], ["Step"], ["Rows", 1], ["Bytes", 1], ["State"], ["Problem"]]) {
      hr.append(h("th", num ? "scout-num" : "", label));
    }
    const thead = h("thead");
    thead.append(hr);
    const tbody = h("tbody");
    for (const r of job.rows) {
      const tr = h("tr", "scout-row");
      tr.dataset.id = r.id;
      const state = h("td");
      state.append(h("span", `scout-state scout-state--${r.state}`, r.state));
      tr.append(h("td", "scout-id", r.id), h("td", null, r.step), h("td", "scout-num", r.rows),
                h("td", "scout-num", r.bytes), state, h("td", r.error ? "scout-error" : null, r.error));
      if (!r.error) tr.lastChild.className = "";
      tbody.append(tr);
    }
    table.append(thead, tbody);
    wrap.append(head, table);
    if (job.summary) wrap.append(h("div", "scout-summary", job.summary));
    return wrap;
  }

  function update() {
    const job = model.get("job");
    body.replaceChildren(job && job.job_id ? jobView(job) : checklist());
  }

  const onError = () => { showError(); if (!(model.get("job") || {}).job_id) update(); };  // re-arm Start
  const handlers = [["change:job", update], ["change:choices", update], ["change:error", onError]];
  for (const [name, fn] of handlers) model.on(name, fn);
  update();
  showError();
  return () => {
    for (const [name, fn] of handlers) model.off(name, fn);
    if (timer) clearInterval(timer);
  };
}

export default { render };
