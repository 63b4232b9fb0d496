(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("#transcript tbody tr"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("#filters [data-filter]"));
  var status = document.getElementById("filter-status");
  var player = document.getElementById("player");
  var current = "all";

  function apply(code) {
    current = code;
    var shown = 0;
    rows.forEach(function (row) {
      var codes = (row.getAttribute("data-codes") || "").split(" ");
      var visible = code === "all" || codes.indexOf(code) >= 0;
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-filter") === code ? "true" : "false");
    });
    if (status) { status.textContent = "Showing " + shown + " of " + rows.length + " utterances."; }
  }

  function select(row, play) {
    rows.forEach(function (r) { r.classList.remove("current"); });
    row.classList.add("current");
    var start = parseFloat(row.getAttribute("data-start"));
    if (player && !isNaN(start)) {
      try {
        player.currentTime = start;
        if (play) {
          var promise = player.play();
          if (promise && promise.catch) { promise.catch(function () {}); }
        }
      } catch (err) { /* the recording is not reachable */ }
    }
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () { apply(button.getAttribute("data-filter")); });
  });
  rows.forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest("a")) { return; }
      select(row, true);
    });
  });

  function showHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var row = id ? document.getElementById(id) : null;
    if (!row || rows.indexOf(row) < 0) { return; }
    if (row.hidden) { apply("all"); }
    select(row, false);
    row.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", showHash);

  if (player) {
    player.addEventListener("error", function () {
      var box = document.getElementById("player-box");
      if (box) { box.classList.add("unreachable"); }
    });
  }
  apply("all");
  if (location.hash) { showHash(); }
})();
