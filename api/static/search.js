// Autocomplete of the header search box (progressive: without this script the form simply submits to
// /search, as Enter still does). Suggestions come from /search/suggest as the user types; choosing one
// from the list opens its page.
(function () {
  "use strict";
  var input = document.getElementById("site-search");
  var list = document.getElementById("site-search-suggestions");
  if (!input || !list || !window.fetch) return;
  var timer = null, asked = "", pages = {};
  function fill(results) {
    pages = {};
    while (list.firstChild) list.removeChild(list.firstChild);
    results.forEach(function (r) {
      var option = document.createElement("option");
      option.value = r.label;
      option.label = r.type_label;
      option.textContent = r.type_label;
      list.appendChild(option);
      if (!(r.label in pages)) pages[r.label] = r.href;
    });
  }
  function ask() {
    var q = input.value.trim();
    if (q.length < 2 || q === asked) return;
    asked = q;
    fetch("/search/suggest?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {results: []}; })
      .then(function (answer) { if (answer.q === input.value.trim()) fill(answer.results || []); })
      .catch(function () { /* no suggestion: the form still works */ });
  }
  input.addEventListener("input", function (event) {
    var value = input.value;
    if (pages[value] && event.inputType === "insertReplacementText") {
      window.location.href = pages[value];  // a suggestion was chosen from the list
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
}());
