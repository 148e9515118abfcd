// campaign.js — one campaign on /console/campaign?id=…: live totals and per-minute charts,
// refreshed every few seconds, and the update and stop forms.

import { campaigns, token } from "./api.js";
import { render } from "./chart.js";
import { CAMPAIGN_FIELDS, changedFields, formValues } from "./fields.js";
import { axisNumber, clock, grouped, money, percent, shortPercent } from "./format.js";
import { clearErrors, fill, renderFields, say, showError, values } from "./forms.js";
import { startSession } from "./session.js";
import { statusBadge } from "./widgets.js";

const REFRESH_MS = 3000;
const campaignId = new URLSearchParams(window.location.search).get("id") || "";
const updateForm = document.getElementById("update");
const stopForm = document.getElementById("stop");
let session;
let current = null; // the campaign as last read: what the update form compares against

function refused(error, form) {
  if (error.status === 401 || error.status === 403) session.expired();
  else if (form) showError(form, error);
}

function showCampaign(campaign) {
  current = campaign;
  document.title = `${campaign.text} · adplatform console`;
  document.getElementById("title").textContent = campaign.text;
  const identity = document.getElementById("identity");
  const id = document.createElement("code");
  id.textContent = campaign.campaign_id;
  identity.replaceChildren(statusBadge(campaign.status), " ", campaign.status_reason, " · ", id);
  const stats = campaign.stats || {};
  const shown = {
    spent: money(campaign.spent),
    remaining_budget: money(campaign.remaining_budget),
    budget: money(campaign.budget),
    current_slot_budget: money(campaign.current_slot_budget),
    cpm: money(campaign.cpm),
    impressions: grouped(stats.impressions),
    clicks: grouped(stats.clicks),
    acquisitions: grouped(stats.acquisitions),
    ctr: percent(stats.ctr),
  };
  for (const [name, text] of Object.entries(shown)) {
    document.querySelector(`[data-kpi="${name}"]`).textContent = text;
  }
  document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function seriesRow(point) {
  const tr = document.createElement("tr");
  const cells = [
    new Date(point.minute).toLocaleString(),
    grouped(point.impressions),
    grouped(point.clicks),
    grouped(point.acquisitions),
    percent(point.ctr),
    money(point.spend),
    money(point.ecpm),
  ];
  for (const [i, text] of cells.entries()) {
    const td = document.createElement("td");
    if (i) td.className = "num";
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function showSeries(points) {
  document.getElementById("no-series").hidden = points.length > 0;
  const at = (point) => Date.parse(point.minute);
  // Charts plot spend as a Number: fine for a picture; the tiles and table keep exact strings.
  const spend = points.map((point) => ({ t: at(point), v: Number(point.spend) }));
  const ctr = points.map((point) => ({ t: at(point), v: Number(point.ctr || 0) }));
  const total = points.reduce((sum, point) => sum + Number(point.spend), 0);
  const latest = points[points.length - 1];
  render(document.getElementById("spend-chart"), spend, {
    title: "Spend per minute",
    summary: points.length
      ? `${points.length} minutes, ${total.toPrecision(6)} spent in all; latest minute ${money(latest.spend)}.`
      : "No data in this window.",
    formatValue: axisNumber,
    formatTime: clock,
  });
  render(document.getElementById("ctr-chart"), ctr, {
    title: "Click-through rate per minute",
    summary: points.length ? `Latest minute ${percent(latest.ctr)} of ${grouped(latest.impressions)} impressions.` : "No data in this window.",
    formatValue: shortPercent,
    formatTime: clock,
  });
  document.querySelector("#series tbody").replaceChildren(...points.map(seriesRow));
}

// refresh reads the campaign and its KPI minutes; the first read also fills the update form.
async function refresh() {
  const minutes = Number(document.getElementById("minutes").value);
  try {
    const [{ campaign }, { points }] = await Promise.all([
      campaigns.get(campaignId),
      campaigns.kpis(campaignId, minutes),
    ]);
    const first = current === null;
    showCampaign(campaign);
    showSeries(points || []);
    if (first) fill(updateForm, formValues(campaign));
  } catch (error) {
    if (error.status === 404 || error.status === 400) {
      const missing = document.getElementById("missing");
      missing.textContent = `No campaign to show: ${error.message}`;
      missing.hidden = false;
      document.getElementById("details").hidden = current === null;
    } else {
      refused(error, document.getElementById("window"));
    }
  }
}

function live() {
  const tick = async () => {
    if (!document.hidden && token()) await refresh(); // signed out: wait for the sign-in form
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

function bindForms() {
  renderFields(updateForm.querySelector(".fields"), CAMPAIGN_FIELDS);
  updateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(updateForm);
    try {
      const { campaign } = await campaigns.update(campaignId, changedFields(values(updateForm), current));
      fill(updateForm, formValues(campaign));
      say(updateForm, `Saved: ${campaign.status_reason}.`);
    } catch (error) {
      refused(error, updateForm);
    }
  });
  stopForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(stopForm);
    try {
      const { campaign } = await campaigns.stop(campaignId, values(stopForm).reason.trim());
      say(stopForm, `Stopping: ${campaign.status_reason}.`);
      refresh();
    } catch (error) {
      refused(error, stopForm);
    }
  });
  document.getElementById("minutes").addEventListener("change", refresh);
  document.getElementById("window").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
}

session = startSession(() => {
  if (!campaignId) {
    const missing = document.getElementById("missing");
    missing.textContent = "No campaign id in the address: open a campaign from the table.";
    missing.hidden = false;
    document.getElementById("details").hidden = true;
    return;
  }
  bindForms();
  refresh();
  live();
});
