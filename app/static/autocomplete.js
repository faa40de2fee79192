/* Lienhop search box: completions as the researcher types (GET /autocomplete), shown as a WAI-ARIA 1.2
   combobox with a listbox popup ("list autocomplete with manual selection").

   Progressive enhancement: the page's search box works as a plain search field without this script;
   the script only adds the combobox roles and the popup, so no role promises a popup that is not there.
   Plain JavaScript, served by Lienhop; the labels come translated from the page (data-* attributes). */
(function () {
  "use strict";
  var input = document.querySelector("input[data-autocomplete]");
  if (!input || !input.form || !window.fetch) { return; }

  var DELAY = 200;     // ms after the last keystroke: one request per pause in typing, not one per letter
  var MIN_LETTERS = 2; // one letter completes to half the catalogue: nothing worth choosing from
  var SIZE = 8;        // enough to choose from, short enough to stay above the keyboard on a phone
  // Letters only Vietnamese has among the page's two languages: a Vietnamese completion in an English
  // page is marked lang="vi" so that a screen reader pronounces it as Vietnamese.
  var VIETNAMESE = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýãõĩũ]/i;

  var form = input.form;
  var endpoint = input.getAttribute("data-autocomplete");
  var pageLang = document.documentElement.getAttribute("lang") || "vi";
  var countLabel = input.getAttribute("data-count-label") || "{n}";

  var list = document.createElement("ul");
  list.id = input.id + "-listbox";
  list.className = "ac-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", input.getAttribute("data-listbox-label") || "");
  list.hidden = true;
  // A polite status says how many completions there are: the popup opening is otherwise silent
  // until the user presses an arrow key.
  var status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  // after the box and its button: the page's stylesheet lays the list out under the box
  input.parentNode.appendChild(list);
  input.parentNode.appendChild(status);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("autocomplete", "off"); // the browser's own history popup would cover ours

  var timer = null;
  var latest = 0;        // number of the newest request: an older answer arriving late is dropped
  var inflight = null;   // AbortController of the request under way
  var items = [];
  var active = -1;

  function isOpen() { return !list.hidden; }

  function setActive(index) {
    var options = list.children;
    if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
    active = index;
    if (index < 0 || !options[index]) {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      return;
    }
    options[index].setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", options[index].id);
    if (options[index].scrollIntoView) { options[index].scrollIntoView({ block: "nearest" }); }
  }

  function close() {
    setActive(-1);
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function open() {
    if (!items.length) { return; }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function show(found) {
    items = found;
    setActive(-1);
    list.textContent = "";
    found.forEach(function (text, i) {
      var option = document.createElement("li");
      option.id = list.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.textContent = text;
      if (pageLang !== "vi" && VIETNAMESE.test(text)) { option.setAttribute("lang", "vi"); }
      list.appendChild(option);
    });
    status.textContent = found.length ? countLabel.replace("{n}", String(found.length)) : "";
    if (found.length) { open(); } else { close(); }
  }

  function forget() {
    latest += 1; // whatever is still under way is now too old to show
    if (inflight) { inflight.abort(); inflight = null; }
    items = [];
    status.textContent = "";
    close();
  }

  function ask() {
    var typed = input.value.trim();
    if (typed.length < MIN_LETTERS) { forget(); return; }
    latest += 1;
    var ticket = latest;
    if (inflight) { inflight.abort(); }
    inflight = window.AbortController ? new AbortController() : null;
    var url = endpoint + "?q=" + encodeURIComponent(typed) + "&size=" + SIZE;
    fetch(url, { headers: { Accept: "application/json" }, signal: inflight ? inflight.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (found) {
        // Only the answer to the newest request, and only while the box still says what was asked.
        if (ticket !== latest || input.value.trim() !== typed) { return; }
        inflight = null;
        show(Array.isArray(found) ? found.filter(function (x) { return typeof x === "string"; }) : []);
      })
      .catch(function () { /* aborted or offline: the box stays a plain search field */ });
  }

  function pick(index) {
    if (index < 0 || index >= items.length) { return; }
    input.value = items[index];
    forget();
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    setActive(-1);
    timer = setTimeout(ask, DELAY);
  });

  input.addEventListener("keydown", function (event) {
    if (event.altKey && event.key !== "ArrowDown") { return; }
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!isOpen()) {
          if (items.length) { open(); if (!event.altKey) { setActive(0); } } else { clearTimeout(timer); ask(); }
        } else if (!event.altKey) {
          setActive(active + 1 < items.length ? active + 1 : 0);
        }
        break;
      case "ArrowUp":
        if (isOpen()) {
          event.preventDefault();
          setActive(active > 0 ? active - 1 : items.length - 1);
        }
        break;
      case "Enter":
        if (isOpen() && active >= 0) {
          event.preventDefault();
          pick(active);
        }
        break;
      case "Escape":
        if (isOpen()) {
          event.preventDefault(); // closes the popup only; a second Escape clears the box as usual
          close();
        }
        break;
      case "Tab":
        close();
        break;
      default:
        break;
    }
  });

  // A press on an option must not take the focus from the box (which would close the popup first).
  list.addEventListener("mousedown", function (event) { event.preventDefault(); });
  list.addEventListener("click", function (event) {
    var option = event.target.closest ? event.target.closest("[role=option]") : null;
    if (option) { pick(Array.prototype.indexOf.call(list.children, option)); }
  });
  input.addEventListener("blur", close);
  form.addEventListener("submit", function () { clearTimeout(timer); forget(); });
  window.addEventListener("pageshow", function () { forget(); }); // back from the results: no stale popup
})();
