/* Lienhop widgets for member OPACs: one script tag, no framework, no build step.
 *
 *   <script src="https://lienhop.example.vn/widget.js" defer></script>
 *   <lienhop-holdings member="NASATI" isbn="978-604-..." lang="vi"></lienhop-holdings>
 *       "Also held by": the other members holding the item (isbn, issn, doi or title="...").
 *   <lienhop-search member="NASATI" lang="en"></lienhop-search>
 *       A search box over this member's records; when it finds nothing here, what other members hold.
 *
 * The older one-line form keeps working and shows the same "also held by" list after the script:
 *   <script src=".../widget.js" data-member="NASATI" data-isbn="978-604-..." data-lang="vi"></script>
 *
 * Each widget renders in its own Shadow DOM with its own small stylesheet, so the OPAC's CSS does not
 * reach in and ours does not leak out. Vietnamese unless lang="en".
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var base = script.src.replace(/\/widget\.js(?:[?#].*)?$/, "");
  var KINDS = ["isbn", "issn", "doi", "title"];
  var TEXT = {
    vi: {
      held: "Cũng có tại", newWindow: "(mở trong cửa sổ mới)", label: "Tìm trong %s",
      search: "Tìm", results: "%n kết quả tại %s", result: "%n kết quả tại %s", none: "Không tìm thấy tại %s.",
      elsewhere: "Có tại các thư viện thành viên khác:", nothing: "Không tìm thấy trong mục lục liên hợp.",
      failed: "Chưa tìm được, xin thử lại."
    },
    en: {
      held: "Also held by", newWindow: "(opens in a new window)", label: "Search %s",
      search: "Search", results: "%n results at %s", result: "%n result at %s", none: "Nothing found at %s.",
      elsewhere: "Held by other member libraries:", nothing: "Nothing found in the union catalogue.",
      failed: "The search did not work, please try again."
    }
  };
  // Contrast >= 4.5:1 on white. Important declarations of a shadow tree win over the host page's, so
  // ":host{all:initial !important}" stops the OPAC's styles (even its !important ones) at the element;
  // the children inherit from .box, never from the page.
  var CSS = [
    ":host{all:initial !important;display:block !important}",
    ":host([hidden]){display:none !important}",
    ".box{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2a35;background:#fff;",
    "text-align:left;letter-spacing:normal;word-spacing:normal;text-transform:none;overflow-wrap:anywhere}",
    "*,*::before,*::after{box-sizing:border-box}",
    "p{margin:.3rem 0}ul{margin:.2rem 0;padding-left:1.2rem}li{margin:.15rem 0}",
    "a{color:#0b5394;background:transparent;text-decoration:underline}",
    "a:focus-visible,input:focus-visible,button:focus-visible{outline:3px solid #b35c00;outline-offset:2px}",
    "form{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:0}",
    "label{font-weight:600;flex-basis:100%}",
    "input{font:inherit;color:#1d2a35;background:#fff;border:1px solid #6b7a86;border-radius:4px;",
    "padding:.3rem .45rem;flex:1 1 10rem;min-width:0;margin:0}",
    "button{font:inherit;color:#fff;background:#0b5394;border:1px solid #0b5394;border-radius:4px;",
    "padding:.3rem .8rem;cursor:pointer;margin:0}",
    ".muted{color:#4f5f6b}.error{color:#a40000}",
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("");

  function language(el, fallback) {
    var lang = (el.getAttribute("lang") || fallback || "").toLowerCase();
    return lang === "en" ? "en" : "vi";
  }
  function say(t, key, name, n) {
    return t[key].replace("%s", name || "").replace("%n", String(n));
  }
  function make(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text) { el.textContent = text; }
    return el;
  }
  /* The element's shadow root, emptied, with our stylesheet; what the widget shows goes in the .box. */
  function shadow(host) {
    var root = host.shadowRoot || host.attachShadow({ mode: "open" });
    root.textContent = "";
    root.appendChild(make("style", {}, CSS));
    var box = make("div", { "class": "box" });
    root.appendChild(box);
    return box;
  }
  function hide(host) { host.hidden = true; }
  function show(host) { host.hidden = false; }
  function memberName(m, lang) { return lang === "en" ? (m.name_en || m.name_vi) : m.name_vi; }
  function newWindowLink(href, text, t, lang) {
    var a = make("a", { href: href, target: "_blank", rel: "noopener" }, text);
    if (lang) { a.setAttribute("lang", lang); }
    a.appendChild(make("span", { "class": "vh" }, " " + t.newWindow));
    return a;
  }
  function getJSON(path) {
    return fetch(base + path, { credentials: "omit" }).then(function (r) { return r.ok ? r.json() : null; });
  }

  // ------------------------------------------------------------------ "also held by"
  function holders(data, member, lang) {
    var seen = {}, links = [];
    // /lookup answers works, each with its holdings: every member holding it and its records there
    (data && data.works || []).forEach(function (work) {
      (work.holdings || []).forEach(function (m) {
        if (m.code === member || seen[m.code] || !m.records.length) { return; }
        seen[m.code] = true;
        var h = m.records[0];
        links.push({ name: memberName(m, lang), nameLang: lang === "en" && !m.name_en ? "vi" : "",
                     url: base + (h.opac_url ? "/go/" : "/record/") + encodeURIComponent(h.record_id) +
                          (h.opac_url && member ? "?member=" + encodeURIComponent(member) : "") });
      });
    });
    return links;
  }

  function renderHoldings(host, member, kind, value, lang) {
    shadow(host);
    hide(host);  // nothing shows, not even the host page's styling of the element, until there is an answer
    if (!kind) { return; }
    var t = TEXT[lang];
    getJSON("/lookup?" + kind + "=" + encodeURIComponent(value) + (member ? "&member=" + encodeURIComponent(member) : "")).then(function (data) {
      var links = holders(data, member, lang);
      if (!links.length) { return; }
      var root = shadow(host);
      var id = "lienhop-held";
      root.appendChild(make("p", { id: id }, t.held + ":"));
      var list = make("ul", { "aria-labelledby": id });
      links.forEach(function (link) {
        var li = make("li");
        li.appendChild(newWindowLink(link.url, link.name, t, link.nameLang));
        list.appendChild(li);
      });
      root.appendChild(list);
      show(host);
    }).catch(function () { /* the OPAC page must not break when Lienhop is unreachable */ });
  }

  function holdingsOf(el) {
    for (var i = 0; i < KINDS.length; i++) {
      var v = el.getAttribute(KINDS[i]);
      if (v) { return [KINDS[i], v]; }
    }
    return [null, null];
  }

  // ------------------------------------------------------------------ member-scoped search
  var names = null;
  function memberNames() {
    names = names || getJSON("/members").then(function (list) {
      var byCode = {};
      (list || []).forEach(function (r) { byCode[r.code] = r.member || r; });
      return byCode;
    }).catch(function () { return {}; });
    return names;
  }

  function renderSearch(host, member, lang) {
    var t = TEXT[lang];
    var root = shadow(host);
    var box = make("div", { role: "search", "aria-label": say(t, "label", member) });
    var form = make("form");
    var id = "lienhop-q";
    var label = make("label", { "for": id });
    var input = make("input", { id: id, type: "search", name: "q", autocomplete: "off" });
    var button = make("button", { type: "submit" }, t.search);
    var out = make("div", { "aria-live": "polite" });
    form.appendChild(label); form.appendChild(input); form.appendChild(button);
    box.appendChild(form); root.appendChild(box); root.appendChild(out);
    memberNames().then(function (byCode) {
      var own = byCode[member];
      host._lienhopName = own ? memberName(own, lang) : member;
      label.textContent = say(t, "label", host._lienhopName);
      box.setAttribute("aria-label", label.textContent);
    });
    label.textContent = say(t, "label", member);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = input.value.trim();
      if (!q) { return; }
      var scope = "&member=" + encodeURIComponent(member);
      var path = "/search?facets=&size=10&q=" + encodeURIComponent(q);
      Promise.all([getJSON(path + scope), memberNames()]).then(function (answers) {
        var here = answers[0], byCode = answers[1], name = host._lienhopName || member;
        out.textContent = "";
        if (!here) { out.appendChild(make("p", { "class": "error" }, t.failed)); return; }
        if (here.total) {
          var counted = say(t, here.total === 1 ? "result" : "results", name, here.total);
          out.appendChild(make("p", { "class": "muted" }, counted));
          out.appendChild(list(here.hits, null, t, lang));
          return null;
        }
        out.appendChild(make("p", {}, say(t, "none", name)));
        return getJSON(path).then(function (all) {
          if (all && all.total) {
            out.appendChild(make("p", { "class": "muted" }, t.elsewhere));
            out.appendChild(list(all.hits, byCode, t, lang));
          } else {
            out.appendChild(make("p", { "class": "muted" }, t.nothing));
          }
        });
      }).catch(function () {
        out.textContent = "";
        out.appendChild(make("p", { "class": "error" }, t.failed));
      });
    });
  }

  function list(hits, byCode, t, lang) {
    var ul = make("ul");
    hits.forEach(function (hit) {
      var li = make("li");
      var titleLang = { vie: "vi", eng: "en" }[hit.language] || "";
      li.appendChild(newWindowLink(base + "/work/" + encodeURIComponent(hit.work_id), hit.title || "—", t,
                                   titleLang && titleLang !== lang ? titleLang : ""));
      var tail = hit.year ? " (" + hit.year + ")" : "";
      if (byCode) {  // hits are works: name the members holding each
        tail += " – " + (hit.holdings || []).map(function (h) {
          var m = byCode[h.code];
          return m ? memberName(m, lang) : memberName(h, lang);
        }).join(", ");
      }
      if (tail) { li.appendChild(document.createTextNode(tail)); }
      ul.appendChild(li);
    });
    return ul;
  }

  // ------------------------------------------------------------------ the elements
  if (window.customElements && !customElements.get("lienhop-holdings")) {
    customElements.define("lienhop-holdings", class extends HTMLElement {
      static get observedAttributes() { return ["member", "lang"].concat(KINDS); }
      connectedCallback() { this._render(); }
      attributeChangedCallback() { if (this.isConnected) { this._render(); } }
      _render() {
        var found = holdingsOf(this);
        renderHoldings(this, (this.getAttribute("member") || "").toUpperCase(), found[0], found[1],
                       language(this));
      }
    });
    customElements.define("lienhop-search", class extends HTMLElement {
      static get observedAttributes() { return ["member", "lang"]; }
      connectedCallback() { this._render(); }
      attributeChangedCallback() { if (this.isConnected) { this._render(); } }
      _render() {
        renderSearch(this, (this.getAttribute("member") || "").toUpperCase(), language(this));
      }
    });
  }

  // ------------------------------------------------------------------ the older data-* script form
  var legacyMember = script.getAttribute("data-member");
  if (legacyMember && window.customElements) {
    var el = document.createElement("lienhop-holdings");
    el.setAttribute("member", legacyMember);
    el.setAttribute("lang", (script.getAttribute("data-lang") || "en").toLowerCase() === "vi" ? "vi" : "en");
    KINDS.forEach(function (k) {
      var v = script.getAttribute("data-" + k);
      if (v) { el.setAttribute(k, v); }
    });
    script.parentNode.insertBefore(el, script.nextSibling);
  }
})();
