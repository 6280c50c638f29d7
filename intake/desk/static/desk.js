// The desk's only script (the Content-Security-Policy allows no inline script). Outside text is put into
// the page with textContent, never as HTML.
(function () {
  "use strict";
  var page = document.body.dataset.page;

  function listPage() {
    var table = document.getElementById("submissions");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var search = document.getElementById("search");
    var outcome = document.getElementById("filter-outcome");
    var decision = document.getElementById("filter-decision");
    var unit = document.getElementById("filter-unit");
    var visible = document.getElementById("count-visible");
    var texts = null;   // built on the first search, so that opening the page stays fast
    var selected = null;

    function shown() { return rows.filter(function (r) { return !r.hidden; }); }

    function select(row) {
      if (selected) { selected.classList.remove("selected"); selected.removeAttribute("aria-selected"); }
      selected = row;
      if (row) {
        row.classList.add("selected");
        row.setAttribute("aria-selected", "true");
        row.scrollIntoView({ block: "nearest" });
      }
    }

    function applyFilters() {
      var q = search.value.trim().toLowerCase(), o = outcome.value, d = decision.value, u = unit.value, n = 0;
      if (q && texts === null) { texts = rows.map(function (r) { return r.textContent.toLowerCase(); }); }
      rows.forEach(function (r, i) {
        var show = (!q || texts[i].indexOf(q) !== -1) && (!o || r.dataset.outcome === o) &&
                   (!d || r.dataset.decision === d) && (!u || r.dataset.unit === u);
        r.hidden = !show;
        if (show) { n += 1; }
      });
      visible.textContent = String(n);
      if (selected && selected.hidden) { select(null); }
    }
    [search, outcome, decision, unit].forEach(function (el) { el.addEventListener("input", applyFilters); });

    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (!th.classList.contains("sortable")) { return; }
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        var numeric = th.dataset.type === "number";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var keyed = rows.map(function (r) {
          var v = r.cells[col].dataset.sort || r.cells[col].textContent;
          return { row: r, key: numeric ? parseFloat(v) : v };
        });
        keyed.sort(function (a, b) {
          var c = numeric ? a.key - b.key : String(a.key).localeCompare(String(b.key), "zh-CN");
          return ascending ? c : -c;
        });
        var frag = document.createDocumentFragment();
        keyed.forEach(function (k) { frag.appendChild(k.row); });
        body.appendChild(frag);
        rows = keyed.map(function (k) { return k.row; });
        texts = null;
      });
    });

    body.addEventListener("click", function (e) {
      var row = e.target.closest("tr");
      if (row && e.target.tagName !== "A") { window.location.href = "/entries/" + row.dataset.id; }
    });

    document.addEventListener("keydown", function (e) {
      var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (e.key === "/" && !typing) { e.preventDefault(); search.focus(); return; }
      if (typing && e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "Enter") { return; }
      if (typing && e.key === "Enter" && !selected) { return; }
      var list = shown(), at = selected ? list.indexOf(selected) : -1;
      if (e.key === "ArrowDown" || (!typing && e.key === "j")) {
        e.preventDefault(); select(list[Math.min(at + 1, list.length - 1)] || null);
      } else if (e.key === "ArrowUp" || (!typing && e.key === "k")) {
        e.preventDefault(); select(list[Math.max(at - 1, 0)] || null);
      } else if ((e.key === "Enter" || (!typing && e.key === "o")) && selected) {
        e.preventDefault(); window.location.href = "/entries/" + selected.dataset.id;
      }
    });
  }

  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }

  function overviewPage() {
    var table = document.getElementById("latest");
    var body = table.tBodies[0];
    var lastId = parseInt(table.dataset.lastId, 10) || 0;
    var every = parseInt(table.dataset.refreshMs, 10) || 5000;

    function addRow(r) {
      var tr = document.createElement("tr");
      tr.className = "new";
      var link = document.createElement("a");
      link.href = "/entries/" + r.id;
      link.textContent = "#" + r.id;
      var first = document.createElement("td");
      first.appendChild(link);
      tr.appendChild(first);
      tr.appendChild(cell(r.received_at));
      tr.appendChild(cell(r.unit || "（未注明）"));
      tr.appendChild(cell(r.title));
      var badge = document.createElement("span");
      badge.className = "badge " + r.outcome;
      badge.textContent = r.outcome_label;
      var last = document.createElement("td");
      last.appendChild(badge);
      tr.appendChild(last);
      body.insertBefore(tr, body.firstChild);
    }

    function setCount(name, value) {
      var el = document.querySelector("[data-count='" + name + "']");
      if (el) { el.textContent = String(value); }
    }

    function poll() {
      fetch("/api/overview?after=" + lastId, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.latest.length) { return; }
          var empty = body.querySelector("tr.empty");
          if (empty) { empty.remove(); }
          data.latest.slice().reverse().forEach(addRow);
          while (body.rows.length > 10) { body.deleteRow(body.rows.length - 1); }
          lastId = data.last_id;
          table.dataset.lastId = String(lastId);
          var c = data.counts;
          setCount("total", c.total);
          setCount("undecided", c.undecided);
          Object.keys(c.outcomes).forEach(function (k) { setCount("outcome-" + k, c.outcomes[k]); });
          Object.keys(c.decisions).forEach(function (k) { setCount("decision-" + k, c.decisions[k]); });
        })
        .catch(function () { /* the next poll tries again */ })
        .then(function () { window.setTimeout(poll, every); });
    }
    window.setTimeout(poll, every);
  }

  if (page === "list") { listPage(); }
  if (page === "overview") { overviewPage(); }
  document.body.dataset.ready = "1";
})();
