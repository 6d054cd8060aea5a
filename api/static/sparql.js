// The YASGUI editor on /sparql, preloaded with the research questions of queries/ (no inline script: CSP).
(function () {
  const element = document.getElementById("yasgui");
  const endpoint = element.dataset.endpoint;
  const examples = JSON.parse(document.getElementById("example-queries").textContent);
  const yasgui = new Yasgui(element, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    persistenceId: null,
  });
  if (examples.length) { yasgui.getTab().setQuery(examples[0].query); }
  document.querySelectorAll("#examples a").forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      const chosen = examples.find(function (q) { return q.name === a.dataset.name; });
      yasgui.getTab().setQuery(chosen.query);
    });
  });
})();
