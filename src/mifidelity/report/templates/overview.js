(function () {
  "use strict";
  var table = document.getElementById("sessions");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var search = document.getElementById("search");
  var coach = document.getElementById("coach-filter");
  var rating = document.getElementById("rating-filter");
  var quality = document.getElementById("quality-filter");
  var status = document.getElementById("table-status");

  function filter() {
    var text = search ? search.value.trim().toLowerCase() : "";
    var who = coach ? coach.value : "";
    var level = rating ? rating.value : "";
    var band = quality ? quality.value : "";
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!text || row.textContent.toLowerCase().indexOf(text) >= 0) &&
        (!who || row.getAttribute("data-coach") === who) &&
        (!level || row.getAttribute("data-rating") === level) &&
        (!band || row.getAttribute("data-quality") === band);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (status) { status.textContent = "Showing " + shown + " of " + rows.length + " sessions."; }
  }

  function sortBy(header, index) {
    var type = header.getAttribute("data-type") || "text";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    function key(row) {
      var cell = row.cells[index];
      var raw = cell.getAttribute("data-sort");
      if (raw === null) { raw = cell.textContent.trim(); }
      if (type === "number") {
        var value = parseFloat(raw);
        return isNaN(value) ? null : value;
      }
      return raw.toLowerCase();
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === y) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
    var button = header.querySelector("button");
    if (button) { button.addEventListener("click", function () { sortBy(header, index); }); }
  });
  [search, coach, rating, quality].forEach(function (control) {
    if (control) { control.addEventListener("input", filter); control.addEventListener("change", filter); }
  });
  filter();
})();
