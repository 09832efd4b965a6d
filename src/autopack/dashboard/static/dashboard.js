// Live refresh for the dashboard pages: the runs table re-reads /api/v1/runs, an active run's
// page reloads when the API reports progress. Plain DOM, no library, nothing from a CDN.
"use strict";

const FINISHED = new Set(["Succeeded", "Failed", "Cancelled"]);

function money(value) {
  return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
}

function age(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "m"]]) {
    if (seconds >= size) return Math.floor(seconds / size) + unit;
  }
  return seconds + "s";
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function refreshChoices(name, values) {
  const select = document.querySelector('form.filters select[name="' + name + '"]');
  if (!select) return;
  const known = new Set(Array.from(select.options, (option) => option.value));
  for (const value of values) {
    if (known.has(value)) continue;
    const option = document.createElement("option");
    option.textContent = value;
    select.appendChild(option);
  }
}

function renderRuns(table, page) {
  refreshChoices("state", page.states);
  refreshChoices("namespace", page.namespaces);
  refreshChoices("repository", page.repositories);
  const body = document.createElement("tbody");
  for (const run of page.items) {
    const row = document.createElement("tr");
    const name = document.createElement("a");
    name.href = "/runs/" + encodeURIComponent(run.id);
    name.textContent = run.name;
    cell(row, "").appendChild(name);
    cell(row, run.namespace || "-");
    const state = document.createElement("span");
    state.className = "state state-" + run.state.toLowerCase();
    state.textContent = run.state;
    cell(row, "").appendChild(state);
    cell(row, run.progress);
    cell(row, (run.usage.input_tokens + run.usage.output_tokens).toLocaleString("en-US"), "num");
    cell(row, money(run.usage.cost_usd), "num");
    const time = document.createElement("time");
    time.dateTime = run.created_at;
    time.textContent = age(run.created_at);
    cell(row, "").appendChild(time);
    cell(row, run.repo_url, "repo");
    body.appendChild(row);
  }
  if (!page.items.length) {
    const row = document.createElement("tr");
    cell(row, "No runs recorded yet.").colSpan = 8;
    body.appendChild(row);
  }
  table.replaceChild(body, table.tBodies[0]);
  const count = document.getElementById("runs-count");
  if (count) count.textContent = page.total + (page.total === 1 ? " run" : " runs");
  table.dataset.refreshed = String(Date.now());
}

function poll(element, onData) {
  const seconds = Number(element.dataset.refresh || 0);
  if (!seconds) return;
  const tick = async () => {
    try {
      const response = await fetch(element.dataset.api, { headers: { Accept: "application/json" } });
      if (response.ok && onData(await response.json()) === false) return;
    } catch (error) {
      // The dashboard or its database is briefly away: try again on the next tick.
    }
    window.setTimeout(tick, seconds * 1000);
  };
  window.setTimeout(tick, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const runs = document.getElementById("runs");
  if (runs) poll(runs, (page) => renderRuns(runs, page));
  const state = document.getElementById("run-state");
  if (state && !FINISHED.has(state.textContent.trim())) {
    poll(state, (detail) => {
      const now = detail.run.state + "|" + detail.run.progress + "|" + detail.events_total;
      if (now !== state.dataset.updated) {
        window.location.reload();
        return false;
      }
      return true;
    });
  }
});
