/**
 * The owner's page (`GET /owner`): the agents, their agreements and jobs, and the purchases
 * awaiting approval with approve and reject buttons. A static page: it reads
 * `GET /owner/overview` and posts the decisions with the operator's API key, typed in by the owner
 * and kept only in the page.
 */
export const OWNER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Agent escrow: owner</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b1f23; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; font-variant-numeric: tabular-nums; }
  code { font-size: 12px; } button { margin-right: .4rem; }
  #error { color: #b00020; }
</style>
</head>
<body>
<h1>Agent escrow: owner</h1>
<form id="login">
  <label>Operator API key <input id="key" type="password" autocomplete="off" required></label>
  <button type="submit">Show</button>
</form>
<p id="error" role="alert"></p>
<section id="content" hidden>
  <h2>Awaiting approval</h2>
  <table id="approvals"><thead><tr><th>Agent</th><th>Kind</th><th>Amount</th><th>Request</th><th></th></tr></thead><tbody></tbody></table>
  <h2>Agents</h2>
  <table id="agents"><thead><tr><th>Wallet</th><th>Agreements as buyer</th><th>as seller</th></tr></thead><tbody></tbody></table>
  <h2>Agreements</h2>
  <table id="agreements"><thead><tr><th>Agreement</th><th>Model</th><th>Buyer</th><th>Seller</th><th>Status</th></tr></thead><tbody></tbody></table>
  <h2>Jobs</h2>
  <table id="jobs"><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Reason</th><th>Transaction</th></tr></thead><tbody></tbody></table>
</section>
<script>
  let key = "";
  const $ = (id) => document.getElementById(id);
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text ?? ""; return td; };
  const row = (cells) => { const tr = document.createElement("tr"); for (const c of cells) tr.append(typeof c === "string" || c === null ? cell(c) : c); return tr; };
  const fill = (id, rows) => { const body = $(id).querySelector("tbody"); body.replaceChildren(...rows); };
  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { authorization: "Bearer " + key, "content-type": "application/json" } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : res.status);
    return body;
  }
  async function decide(agent, id, decision) {
    try { await api("/agents/" + agent + "/approvals/" + id + "/" + decision, { method: "POST", body: "{}" }); await load(); }
    catch (e) { $("error").textContent = String(e.message ?? e); }
  }
  async function load() {
    $("error").textContent = "";
    const o = await api("/owner/overview");
    fill("approvals", o.approvals.map((j) => {
      const actions = document.createElement("td");
      for (const decision of ["approve", "reject"]) {
        const b = document.createElement("button");
        b.textContent = decision === "approve" ? "Approve" : "Reject";
        b.dataset.decision = decision; b.dataset.job = j.id;
        b.addEventListener("click", () => decide(j.buyer, j.id, decision));
        actions.append(b);
      }
      return row([j.buyer, j.kind, j.amount, j.request_id, actions]);
    }));
    fill("agents", o.agents.map((a) => row([a.wallet, String(a.buying), String(a.selling)])));
    fill("agreements", o.agreements.map((a) => row([a.agreement_id, a.settlement_model, a.buyer_wallet, a.seller_wallet, a.status])));
    fill("jobs", o.jobs.map((j) => row([j.id, j.kind, j.status, j.reason, j.tx_hash])));
    $("content").hidden = false;
  }
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault(); key = $("key").value;
    try { await load(); } catch (e) { $("error").textContent = String(e.message ?? e); }
  });
</script>
</body>
</html>
`;
