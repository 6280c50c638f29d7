// The desk's only script (the Content-Security-Policy allows no inline script). Outside text is put into
// the page with textContent, never as HTML.
(function () {
  "use strict";
  var page = document.body.dataset.page;

  // The list: the server filters, sorts and pages (the query string holds the state); this script fetches
  // the same URL with part=rows and swaps the table in place, so that typing a search keeps the focus.
  function listPage() {
    var form = document.getElementById("list-form");
    var search = document.getElementById("search");
    var selected = null, timer = null, loading = 0;

    function region() { return document.getElementById("list-region"); }
    function rows() { return Array.prototype.slice.call(region().querySelectorAll("tbody tr[data-id]")); }

    function select(row) {
      if (selected) { selected.classList.remove("selected"); selected.removeAttribute("aria-selected"); }
      selected = row;
      if (row) {
        row.classList.add("selected");
        row.setAttribute("aria-selected", "true");
        row.scrollIntoView({ block: "nearest" });
      }
    }

    // Fetch ``url``'s rows and swap them in; then select its first or last row when asked ("first"/"last").
    function load(url, then) {
      var mine = ++loading;
      region().classList.add("loading");
      var sep = url.indexOf("?") === -1 ? "?" : "&";
      return fetch(url + sep + "part=rows", { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) {
          if (mine !== loading) { return; }   // a later request overtook this one
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("list-region");
          region().replaceWith(fresh);
          selected = null;
          document.getElementById("sort").value = fresh.dataset.sort;
          document.getElementById("dir").value = fresh.dataset.dir;
          window.history.replaceState(null, "", fresh.dataset.url);
          var list = rows();
          if (then === "first") { select(list[0] || null); }
          if (then === "last") { select(list[list.length - 1] || null); }
        })
        .catch(function () { window.location.href = url; });   // let the server answer in full
    }

    function formUrl() {
      var params = new URLSearchParams(new FormData(form));
      Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) { params.delete(k); } });
      return "/list?" + params.toString();
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); load(formUrl()); });
    form.addEventListener("change", function (e) { if (e.target !== search) { load(formUrl()); } });
    search.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { load(formUrl()); }, 250);
    });

    document.addEventListener("click", function (e) {
      var link = e.target.closest("#list-region a.nav");
      if (link) { e.preventDefault(); load(link.getAttribute("href")); return; }
      var row = e.target.closest("#list-region tbody tr[data-id]");
      if (row && e.target.tagName !== "A") { window.location.href = "/entries/" + row.dataset.id; }
    });

    function turn(rel, then) {
      var link = region().querySelector("a.nav." + rel);
      if (link) { load(link.getAttribute("href"), then); }
    }

    document.addEventListener("keydown", function (e) {
      var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (e.key === "/" && !typing) { e.preventDefault(); search.focus(); return; }
      if (typing && ["ArrowDown", "ArrowUp", "Enter", "PageDown", "PageUp"].indexOf(e.key) === -1) { return; }
      if (typing && e.key === "Enter" && !selected) { return; }   // the form's own submit
      var list = rows(), at = selected ? list.indexOf(selected) : -1;
      if (e.key === "ArrowDown" || (!typing && e.key === "j")) {
        e.preventDefault();
        if (at === list.length - 1 && list.length) { turn("next", "first"); } else { select(list[at + 1] || null); }
      } else if (e.key === "ArrowUp" || (!typing && e.key === "k")) {
        e.preventDefault();
        if (at === 0) { turn("prev", "last"); } else { select(list[Math.max(at - 1, 0)] || null); }
      } else if (e.key === "PageDown" || (!typing && e.key === "n")) {
        e.preventDefault(); turn("next", "first");
      } else if (e.key === "PageUp" || (!typing && e.key === "p")) {
        e.preventDefault(); turn("prev", "first");
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
      var received = cell(r.received_at);
      received.className = "nowrap";
      tr.appendChild(received);
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

    // When anything changed since the page was drawn (a decision, a recheck, a work of a unit that had none),
    // the counts and the 各单位报送情况 are drawn again (the server renders it; it is swapped in whole).
    function refreshCoverage() {
      return fetch("/?part=coverage", { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString("<section id='coverage-region'>" + html + "</section>", "text/html")
            .getElementById("coverage-region");
          document.getElementById("coverage-region").replaceWith(fresh);
        });
    }

    function poll() {
      var url = "/api/overview?after=" + lastId + "&state=" + encodeURIComponent(table.dataset.state || "");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return null; }
          if (data.latest.length) {
            var empty = body.querySelector("tr.empty");
            if (empty) { empty.remove(); }
            data.latest.slice().reverse().forEach(addRow);
            while (body.rows.length > 10) { body.deleteRow(body.rows.length - 1); }
            lastId = data.last_id;
            table.dataset.lastId = String(lastId);
          }
          var c = data.counts;
          if (c) {
            setCount("total", c.total);
            setCount("undecided", c.undecided);
            Object.keys(c.outcomes).forEach(function (k) { setCount("outcome-" + k, c.outcomes[k]); });
            Object.keys(c.decisions).forEach(function (k) { setCount("decision-" + k, c.decisions[k]); });
          }
          if (data.state) {
            return refreshCoverage().then(function () { table.dataset.state = data.state; });
          }
          return null;
        })
        .catch(function () { /* the next poll tries again */ })
        .then(function () { window.setTimeout(poll, every); });
    }
    window.setTimeout(poll, every);
  }

  // The entry page's strips and finding stills: a click on a frame seeks its player there. Their images are
  // shown once the server has made them (one question per video to /api/pictures, until they are ready), so
  // the page shows no broken image meanwhile and asks nothing of a video that gives no pictures. A finding's
  // outline is placed from its data (the page's policy allows no inline style).
  function entryPage() {
    Array.prototype.forEach.call(document.querySelectorAll(".findings .box[data-box]"), function (box) {
      var at = box.dataset.box.split(" ");
      box.style.left = at[0] + "%";
      box.style.top = at[1] + "%";
      box.style.width = at[2] + "%";
      box.style.height = at[3] + "%";
    });
    Array.prototype.forEach.call(document.querySelectorAll(".strip .frame, .findings .frame"), function (button) {
      button.addEventListener("click", function () {
        var player = document.getElementById(button.dataset.player);
        if (!player) { return; }
        player.currentTime = parseFloat(button.dataset.at);
        player.scrollIntoView({block: "nearest"});
        Array.prototype.forEach.call(button.parentNode.children, function (b) { b.classList.remove("current"); });
        button.classList.add("current");
      });
    });
    var files = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-pictures][data-file]"), function (set) {
      (files[set.dataset.file] = files[set.dataset.file] || []).push(set);
    });
    Object.keys(files).forEach(function (id) { askPictures(id, files[id], 0); });
    followJob();
  }

  function showPictures(set, state) {
    set.dataset.state = state;
    if (state === "ready" && set.dataset.poster) {
      set.poster = set.dataset.poster;
    } else if (state === "ready") {
      Array.prototype.forEach.call(set.querySelectorAll("img[data-src]"), function (img) {
        img.addEventListener("error", function () { img.classList.add("missing"); });
        img.src = img.dataset.src;
      });
    } else if (state === "none") {
      var said = set.querySelector(".picture-state");
      if (said) { said.textContent = "无法从这个视频生成画面。"; }
    }
  }

  function askPictures(id, sets, tries) {
    fetch("/api/pictures/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (state) {
        var waiting = false;
        sets.forEach(function (set) {
          var now = state[set.dataset.pictures] || "none";
          if (now === "making" && tries >= 60) { now = "none"; }   // two minutes: given up
          if (now === "making") { waiting = true; } else if (set.dataset.state === "making") { showPictures(set, now); }
        });
        if (waiting) { window.setTimeout(function () { askPictures(id, sets, tries + 1); }, 2000); }
      })
      .catch(function () { window.setTimeout(function () { askPictures(id, sets, tries + 1); }, 2000); });
  }

  // A recheck or an export still under way (#job): its progress, until it is done; then the page it leads to.
  function followJob() {
    var box = document.getElementById("job");
    if (!box) { return; }
    fetch("/api/jobs/" + box.dataset.job, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        if (job.state === "done") {
          if (job.next) { window.location.href = job.next; } else { window.location.reload(); }
          return;
        }
        if (job.state === "failed" || job.error) {
          box.className = "error job";
          box.textContent = job.error || "处理失败。";
          return;
        }
        box.firstChild.textContent = (job.progress || "正在处理……") + "（已用时 ";
        box.querySelector(".job-seconds").textContent = String(job.seconds);
        window.setTimeout(followJob, 1000);
      })
      .catch(function () { window.setTimeout(followJob, 2000); });
  }

  if (page === "list") { listPage(); }
  if (page === "entry") { entryPage(); }
  if (page === "overview") { overviewPage(); }
  if (page === "export") { followJob(); }
  document.body.dataset.ready = "1";
})();
