/* The demo EHR: calls the real CDS Hooks endpoints the way an EHR does and renders the cards.
 * Flow: discovery (GET /cds-services) → patient-view on opening a chart → order-select when an
 * order is selected → order-sign on "Sign". Every call carries a JWT minted by the demo EHR's
 * back end (/demo/api/token) for the exact endpoint URL, and a prefetch fulfilled from the record.
 */
"use strict";

(function () {
  var root = document.getElementById("app");
  var USER = root.dataset.userId;
  var UNITS = JSON.parse(root.dataset.units || "{}");
  var MD = window.NelmMarkdown;
  var state = { patient: null, discovery: null, drafts: [], pendingCritical: [], signReady: false };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function uuid4() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function busy(on) { $("cds-busy").hidden = !on; }

  function showError(message) {
    var box = $("cds-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function postJson(url, body, headers) {
    return fetch(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json", "Accept": "application/json" }, headers || {}),
      body: JSON.stringify(body),
    });
  }

  function demoApi(path, body) {
    return postJson("/demo/api/" + path, body).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(path + ": " + (j.error || r.status));
        return j;
      });
    });
  }

  function tokenFor(path) {
    return demoApi("token", { path: path }).then(function (j) { return j.token; });
  }

  function jwtClaims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    } catch (e) { return null; }
  }

  function logExchange(title, request, status, response, problems, meta) {
    meta = meta || {};
    var details = el("details", { className: "exchange-item" }, [
      el("summary", { text: new Date().toLocaleTimeString() + "  " + title + "  →  HTTP " + status +
        (meta.ms !== undefined ? "  in " + meta.ms + " ms" : "") +
        (problems && problems.length ? "  (" + problems.length + " CDS Hooks problem(s))" : "") }),
      meta.token ? el("h4", { text: "JWT claims (Authorization: Bearer …, ES384, demo EHR key)" }) : null,
      meta.token ? el("pre", { text: JSON.stringify(jwtClaims(meta.token), null, 2) }) : null,
      el("h4", { text: "Request" }), el("pre", { text: JSON.stringify(request, null, 2) }),
      el("h4", { text: "Response" }), el("pre", { text: typeof response === "string" ? response : JSON.stringify(response, null, 2) }),
    ]);
    if (problems && problems.length) details.appendChild(el("pre", { className: "problems", text: problems.join("\n") }));
    var box = $("exchange");
    box.insertBefore(details, box.firstChild);
  }

  function discovery() {
    if (state.discovery) return Promise.resolve(state.discovery);
    var token;
    return tokenFor("/cds-services").then(function (t) {
      token = t;
      return fetch("/cds-services", { headers: { "Accept": "application/json", "Authorization": "Bearer " + token } });
    }).then(function (r) {
      return r.json().then(function (j) {
        logExchange("GET /cds-services", {}, r.status, j, [], { token: token });
        if (!r.ok) throw new Error("discovery failed: HTTP " + r.status);
        state.discovery = j;
        return j;
      });
    });
  }

  function serviceFor(hook) {
    return discovery().then(function (d) {
      var s = (d.services || []).filter(function (x) { return x.hook === hook; })[0];
      if (!s) throw new Error("the service offers nothing for " + hook);
      return s;
    });
  }

  function draftBundle() {
    return { resourceType: "Bundle", type: "collection",
             entry: state.drafts.map(function (d) { return { resource: d }; }) };
  }

  function fireHook(hook, extraContext) {
    var service;
    var path;
    var body;
    var meta = {};
    var started;
    busy(true);
    showError("");
    return serviceFor(hook).then(function (s) {
      service = s;
      path = "/cds-services/" + encodeURIComponent(s.id);
      var context = Object.assign({ userId: USER, patientId: state.patient.id }, extraContext || {});
      var sendPrefetch = $("send-prefetch").checked;
      return Promise.all([
        tokenFor(path),
        sendPrefetch ? demoApi("prefetch", { patient: state.patient.id, templates: s.prefetch || {}, context: context })
                     : Promise.resolve(null),
      ]).then(function (res) {
        body = { hook: hook, hookInstance: uuid4(), context: context };
        if (res[1]) body.prefetch = res[1];
        meta.token = res[0];
        started = performance.now();
        return postJson(path, body, { "Authorization": "Bearer " + res[0] });
      });
    }).then(function (r) {
      meta.ms = Math.round(performance.now() - started);
      return r.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (e) { json = null; }
        if (!r.ok || !json) {
          logExchange("POST " + path + " (" + hook + ")", body, r.status, json || text, [], meta);
          throw new Error(hook + " answered HTTP " + r.status + (json && json.issue ? ": " + (json.issue[0].diagnostics || "") : ""));
        }
        return demoApi("validate", json).then(function (v) {
          logExchange("POST " + path + " (" + hook + ")", body, r.status, json, v.problems, meta);
          return { service: service, response: json };
        });
      });
    }).finally(function () { busy(false); });
  }

  function sendFeedback(serviceId, item) {
    var path = "/cds-services/" + encodeURIComponent(serviceId) + "/feedback";
    item.outcomeTimestamp = new Date().toISOString();
    var body = { feedback: [item] };
    var meta = {};
    return tokenFor(path).then(function (token) {
      meta.token = token;
      return postJson(path, body, { "Authorization": "Bearer " + token });
    }).then(function (r) {
      return r.text().then(function (t) {
        logExchange("POST " + path, body, r.status, t, [], meta);
        if (!r.ok) throw new Error("feedback answered HTTP " + r.status);
      });
    });
  }

  /* ---- chart ---- */

  function display(cc) {
    if (!cc) return "";
    if (cc.text) return cc.text;
    var c = (cc.coding || []).filter(function (x) { return x.display || x.code; })[0];
    return c ? (c.display || c.code) : "";
  }

  function valueOf(obs) {
    if (obs.valueQuantity) {
      var unit = obs.valueQuantity.unit || obs.valueQuantity.code || "";
      var shown = Object.prototype.hasOwnProperty.call(UNITS, unit) ? UNITS[unit] : unit;
      return (obs.valueQuantity.value + " " + shown).trim();
    }
    if (obs.valueCodeableConcept) return display(obs.valueCodeableConcept);
    if ("valueBoolean" in obs) return obs.valueBoolean ? "yes" : "no";
    if ("valueInteger" in obs) return String(obs.valueInteger);
    if (obs.valueString) return obs.valueString;
    if (obs.component) return obs.component.map(function (c) { return display(c.code) + ": " + valueOf(c); }).join("; ");
    return "";
  }

  function when(r) {
    var d = r.effectiveDateTime || r.onsetDateTime || r.performedDateTime || r.recordedDate || r.authoredOn ||
      (r.effectivePeriod || r.performedPeriod || {}).start || "";
    return d.slice(0, 10);
  }

  function fillTable(id, rows) {
    var body = $(id).querySelector("tbody");
    body.textContent = "";
    if (!rows.length) body.appendChild(el("tr", {}, [el("td", { className: "muted", text: "none recorded" })]));
    rows.forEach(function (cols) {
      body.appendChild(el("tr", {}, cols.map(function (c) { return el("td", { text: c }); })));
    });
  }

  function renderChart(bundle) {
    var res = (bundle.entry || []).map(function (e) { return e.resource; }).filter(Boolean);
    var of = function (t) { return res.filter(function (r) { return r.resourceType === t; }); };
    var pt = of("Patient")[0] || {};
    var name = (pt.name || [{}])[0];
    $("banner-name").textContent = name.text || ((name.given || []).join(" ") + " " + (name.family || "")).trim() || pt.id;
    $("banner-facts").textContent = [pt.gender, pt.birthDate ? "born " + pt.birthDate : "", "id " + pt.id]
      .filter(Boolean).join(" · ");
    fillTable("t-conditions", of("Condition").map(function (c) {
      return [display(c.code), display(c.clinicalStatus), when(c)];
    }));
    fillTable("t-observations", of("Observation").sort(function (a, b) { return when(b).localeCompare(when(a)); })
      .map(function (o) { return [display(o.code), valueOf(o), when(o)]; }));
    fillTable("t-procedures", of("Procedure").map(function (p) { return [display(p.code), p.status || "", when(p)]; }));
    fillTable("t-medications", of("MedicationStatement").concat(of("MedicationRequest")).map(function (m) {
      return [display(m.medicationCodeableConcept), m.status || "", when(m)];
    }));
  }

  /* ---- cards ---- */

  function smartUrl(link) {
    // The EHR would launch link.url with iss and launch; the demo EHR uses the development launch.
    var u = "/smart/dev-launch?patient=" + encodeURIComponent(state.patient.id);
    if (link.appContext) u += "&appContext=" + encodeURIComponent(link.appContext);
    return u;
  }

  function applyActions(actions) {
    if (actions && actions.length) {
      // The orders changed: what was checked at signing no longer applies, so signing starts over.
      state.signReady = false;
      state.pendingCritical = [];
      $("sign-status").textContent = "Orders changed by the accepted suggestion.";
    }
    (actions || []).forEach(function (a) {
      if (a.type === "create" && a.resource) {
        a.resource.id = a.resource.id || "draft-" + uuid4().slice(0, 8);
        state.drafts.push(a.resource);
      } else if (a.type === "delete") {
        var ref = a.resourceId || (a.resource ? a.resource.resourceType + "/" + a.resource.id : "");
        state.drafts = state.drafts.filter(function (d) { return d.resourceType + "/" + d.id !== ref; });
      } else if (a.type === "update" && a.resource) {
        state.drafts = state.drafts.map(function (d) {
          return d.resourceType === a.resource.resourceType && d.id === a.resource.id ? a.resource : d;
        });
      }
    });
    renderDrafts();
  }

  function renderCard(card, serviceId, onResolved) {
    var ind = ["info", "warning", "critical"].indexOf(card.indicator) >= 0 ? card.indicator : "info";
    var node = el("article", { className: "card card-" + ind, "data-testid": "card", "data-indicator": ind,
                               "data-card-uuid": card.uuid || "" });
    var head = el("header", {}, [
      el("span", { className: "indicator", text: ind === "critical" ? "Critical" : ind === "warning" ? "Warning" : "Info" }),
      el("h4", { className: "summary", text: card.summary || "" }),
    ]);
    node.appendChild(head);
    var src = card.source || {};
    var srcUrl = src.url && MD.safeUrl(src.url);
    var srcNode = el("p", { className: "source" }, [document.createTextNode("Source: ")]);
    srcNode.appendChild(srcUrl ? el("a", { href: srcUrl, target: "_blank", rel: "noopener noreferrer", text: src.label || srcUrl })
                               : document.createTextNode(src.label || "unknown"));
    if (src.topic && src.topic.code) srcNode.appendChild(el("span", { className: "topic", text: " · " + (src.topic.display || src.topic.code) }));
    node.appendChild(srcNode);
    if (card.detail) {
      var detail = el("div", { className: "detail", "data-testid": "card-detail" });
      detail.innerHTML = MD.render(card.detail); // safe: the renderer escapes all text first
      // As in EHR sidebars: short or critical details are shown, long ones are one click away.
      var box = el("details", { className: "detail-box" }, [el("summary", { text: "Details" }), detail]);
      box.open = ind === "critical" || card.detail.length <= 700;
      node.appendChild(box);
    }
    var status = el("p", { className: "card-status", "data-testid": "card-status" });
    (card.suggestions || []).forEach(function (s) {
      var btn = el("button", { type: "button", className: "suggestion" + (s.isRecommended ? " recommended" : ""),
                               "data-testid": "accept-suggestion", text: "Accept: " + s.label });
      if (!card.uuid || !s.uuid) { btn.disabled = true; btn.title = "no uuid: the EHR cannot send feedback"; }
      btn.addEventListener("click", function () {
        btn.disabled = true;
        sendFeedback(serviceId, { card: card.uuid, outcome: "accepted", acceptedSuggestions: [{ id: s.uuid }] })
          .then(function () {
            applyActions(s.actions);
            status.textContent = "Accepted “" + s.label + "” (feedback sent).";
            node.classList.add("resolved");
            if (card.selectionBehavior === "at-most-one") {
              node.querySelectorAll("button.suggestion").forEach(function (b) { b.disabled = true; });
            }
            onResolved(card);
          }).catch(function (e) { btn.disabled = false; showError(e.message); });
      });
      node.appendChild(btn);
    });
    (card.links || []).forEach(function (l) {
      var url = l.type === "smart" ? smartUrl(l) : MD.safeUrl(l.url);
      if (!url) return;
      node.appendChild(el("a", { className: "card-link" + (l.type === "smart" ? " smart" : ""), href: url,
                                 target: "_blank", rel: "noopener", "data-testid": "card-link-" + l.type,
                                 text: (l.type === "smart" ? "Open app: " : "") + l.label }));
    });
    if (card.overrideReasons && card.overrideReasons.length) {
      var select = el("select", { "data-testid": "override-reason", "aria-label": "Override reason" },
        [el("option", { value: "", text: "Override reason…" })].concat(card.overrideReasons.map(function (r, i) {
          return el("option", { value: String(i), text: r.display || r.code });
        })));
      var comment = el("input", { type: "text", placeholder: "comment (optional)", "aria-label": "Override comment" });
      var ob = el("button", { type: "button", className: "override", "data-testid": "override", text: "Override" });
      ob.addEventListener("click", function () {
        if (select.value === "") { showError("Choose an override reason first."); return; }
        var reason = card.overrideReasons[Number(select.value)];
        var overrideReason = { reason: reason };
        if (comment.value.trim()) overrideReason.userComment = comment.value.trim();
        ob.disabled = true;
        sendFeedback(serviceId, { card: card.uuid, outcome: "overridden", overrideReason: overrideReason })
          .then(function () {
            status.textContent = "Overridden: " + (reason.display || reason.code) + " (feedback sent).";
            node.classList.add("resolved");
            onResolved(card);
          }).catch(function (e) { ob.disabled = false; showError(e.message); });
      });
      node.appendChild(el("div", { className: "override-row" }, [select, comment, ob]));
    }
    if (ind !== "critical") {
      var dismiss = el("button", { type: "button", className: "dismiss", title: "Dismiss (no feedback: ignored cards are not reported)", text: "×" });
      dismiss.addEventListener("click", function () { node.remove(); });
      head.appendChild(dismiss);
    }
    node.appendChild(status);
    return node;
  }

  function renderCards(targetId, result, onResolved) {
    var box = $(targetId);
    box.textContent = "";
    $(targetId + "-title").hidden = false;
    var cards = (result.response.cards || []).slice();
    var rank = { critical: 0, warning: 1, info: 2 };
    cards.sort(function (a, b) { return (rank[a.indicator] || 3) - (rank[b.indicator] || 3); });
    if (!cards.length) box.appendChild(el("p", { className: "muted", "data-testid": "no-cards", text: "No guidance for this step." }));
    cards.forEach(function (c) { box.appendChild(renderCard(c, result.service.id, onResolved || function () {})); });
    announce(targetId, cards);
    return cards;
  }

  // New cards are announced to screen readers (the live region is in the page from the start).
  function announce(targetId, cards) {
    var where = targetId === "order-cards" ? "for the orders" : "for this patient";
    var critical = cards.filter(function (c) { return c.indicator === "critical"; });
    var text = cards.length ? cards.length + (cards.length === 1 ? " new card " : " new cards ") + where : "No guidance " + where;
    if (critical.length) { text += "; critical: " + critical.map(function (c) { return c.summary; }).join("; "); }
    $("cds-announce").textContent = text + ".";
    // In a narrow panel the cards may sit below the fold: bring a critical one into view.
    var first = critical.length ? $(targetId).querySelector('[data-indicator="critical"]') : null;
    if (first) {
      var r = first.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 60) { first.scrollIntoView({ block: "start" }); }
    }
  }

  /* ---- orders ---- */

  function renderDrafts() {
    var list = $("draft-orders");
    list.textContent = "";
    state.drafts.forEach(function (d) {
      var label = display(d.code || d.medicationCodeableConcept) || d.resourceType;
      var rm = el("button", { type: "button", className: "remove", text: "Remove" });
      rm.addEventListener("click", function () {
        state.drafts = state.drafts.filter(function (x) { return x !== d; });
        renderDrafts();
      });
      list.appendChild(el("li", { "data-testid": "draft-order" }, [el("span", { text: label + " (" + d.resourceType + ", draft)" }), rm]));
    });
    var held = state.signReady && state.pendingCritical.length > 0;
    $("sign").disabled = state.drafts.length === 0 || held;
    $("sign").textContent = held ? "Sign (held by alert)" : state.signReady ? "Sign anyway" : "Sign orders";
  }

  function selectOrder(modality) {
    return demoApi("draft-order", { patient: state.patient.id, modality: modality }).then(function (order) {
      state.drafts.push(order);
      state.signReady = false;
      renderDrafts();
      return fireHook("order-select", { selections: [order.resourceType + "/" + order.id], draftOrders: draftBundle() });
    }).then(function (result) { renderCards("order-cards", result); });
  }

  function completeSigning() {
    var signed = $("signed-orders");
    state.drafts.forEach(function (d) {
      signed.appendChild(el("li", { "data-testid": "signed-order", text: (display(d.code || d.medicationCodeableConcept) || d.resourceType) + " — signed" }));
    });
    state.drafts = [];
    state.signReady = false;
    state.pendingCritical = [];
    $("sign-status").textContent = "Orders signed.";
    renderDrafts();
  }

  function sign() {
    if (state.signReady) {
      if (state.pendingCritical.length) return; // held: the button is disabled until the alert is answered
      completeSigning();
      return;
    }
    fireHook("order-sign", { draftOrders: draftBundle() }).then(function (result) {
      var cards = renderCards("order-cards", result, function (card) {
        if (!state.signReady) return; // a suggestion changed the orders; nothing is held any more
        state.pendingCritical = state.pendingCritical.filter(function (u) { return u !== card.uuid; });
        if (!state.pendingCritical.length) $("sign-status").textContent = "Alert resolved: you may sign.";
        renderDrafts();
      });
      state.pendingCritical = cards.filter(function (c) { return c.indicator === "critical"; }).map(function (c) { return c.uuid; });
      if (state.pendingCritical.length) {
        state.signReady = true;
        $("sign-status").textContent = "Signing held: a critical alert needs an override reason (or remove the order).";
        renderDrafts();
      } else {
        completeSigning();
      }
    }).catch(function (e) { showError(e.message); });
  }

  /* ---- patient selection ---- */

  function openPatient(id, button) {
    document.querySelectorAll("button.patient").forEach(function (b) { b.classList.toggle("active", b === button); });
    state.patient = { id: id };
    state.drafts = [];
    state.signReady = false;
    state.pendingCritical = [];
    renderDrafts();
    $("signed-orders").textContent = "";
    $("sign-status").textContent = "";
    ["order-cards", "chart-cards"].forEach(function (t) { $(t).textContent = ""; $(t + "-title").hidden = true; });
    $("welcome").hidden = true;
    $("chart").hidden = false;
    fetch("/demo/api/patients/" + encodeURIComponent(id) + "/record").then(function (r) {
      if (!r.ok) throw new Error("cannot load the record of " + id);
      return r.json();
    }).then(function (bundle) {
      renderChart(bundle);
      return fireHook("patient-view", {});
    }).then(function (result) { renderCards("chart-cards", result); })
      .catch(function (e) { showError(e.message); });
  }

  document.querySelectorAll("button.patient").forEach(function (b) {
    b.addEventListener("click", function () { openPatient(b.dataset.patientId, b); });
  });
  $("order-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!state.patient) return;
    selectOrder($("order-modality").value).catch(function (e) { showError(e.message); });
  });
  $("sign").addEventListener("click", sign);
})();
