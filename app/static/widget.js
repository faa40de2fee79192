/* Lienhop "Also held by" widget for member OPACs. Embed with one line:
 *   <script src="https://lienhop.example.vn/widget.js" data-member="NASATI" data-isbn="978-604-..."></script>
 * data-issn, data-doi or data-title work in place of data-isbn; data-lang="vi" gives Vietnamese labels.
 * It asks /lookup which other members hold the item and lists them, linked to their own OPACs.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var base = script.src.replace(/\/widget\.js(?:[?#].*)?$/, "");
  var member = (script.getAttribute("data-member") || "").toUpperCase();
  var vi = (script.getAttribute("data-lang") || "").toLowerCase() === "vi";
  var kinds = ["isbn", "issn", "doi", "title"];
  var kind = null, value = null;
  for (var i = 0; i < kinds.length && !kind; i++) {
    var v = script.getAttribute("data-" + kinds[i]);
    if (v) { kind = kinds[i]; value = v; }
  }
  var box = document.createElement("div");
  box.className = "lienhop-holdings";
  script.parentNode.insertBefore(box, script.nextSibling);
  if (!kind) { return; }
  fetch(base + "/lookup?" + kind + "=" + encodeURIComponent(value), { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      var seen = {}, links = [];
      data.works.forEach(function (work) {
        work.members.forEach(function (m) {
          if (m.code === member || seen[m.code] || !m.holdings.length) { return; }
          seen[m.code] = true;
          var h = m.holdings[0];
          links.push({ name: (vi ? m.name_vi : (m.name_en || m.name_vi)), code: m.code,
                       url: h.opac_url || (base + "/record/" + encodeURIComponent(h.record_id)) });
        });
      });
      if (!links.length) { return; }
      box.appendChild(document.createTextNode(vi ? "Cũng có tại: " : "Also held by: "));
      links.forEach(function (link, n) {
        if (n) { box.appendChild(document.createTextNode(", ")); }
        var a = document.createElement("a");
        a.href = link.url;
        a.textContent = link.name;
        a.title = link.code;
        a.target = "_blank";
        a.rel = "noopener";
        box.appendChild(a);
      });
    })
    .catch(function () { /* the OPAC page must not break when Lienhop is unreachable */ });
})();
